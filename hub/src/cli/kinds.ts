import { CLUSTER_NAMESPACE, closestMatch, isClusterScoped, KINDS, type Kind } from '@fedmesh/shared';

const ALIASES: Record<string, Kind> = {
  region: 'Region',
  regions: 'Region',
  service: 'Service',
  services: 'Service',
  svc: 'Service',
  serviceendpoints: 'ServiceEndpoints',
  endpoints: 'ServiceEndpoints',
  ep: 'ServiceEndpoints',
  trafficroute: 'TrafficRoute',
  trafficroutes: 'TrafficRoute',
  tr: 'TrafficRoute',
  trafficpolicy: 'TrafficPolicy',
  trafficpolicies: 'TrafficPolicy',
  tp: 'TrafficPolicy',
  authorizationpolicy: 'AuthorizationPolicy',
  authorizationpolicies: 'AuthorizationPolicy',
  authz: 'AuthorizationPolicy',
};

/** `svc`, `services`, `Service` → `Service`; undefined for anything else. */
export function resolveKind(input: string): Kind | undefined {
  return (
    ALIASES[input.toLowerCase()] ??
    ((KINDS as readonly string[]).find((k) => k === input) as Kind | undefined)
  );
}

/** The word to suggest for a mistyped kind ("servce" → "service"), if one is close. */
export function suggestKind(input: string): string | undefined {
  return closestMatch(input, Object.keys(ALIASES));
}

export const KIND_HELP =
  'region, service (svc), serviceendpoints (ep), trafficroute (tr), trafficpolicy (tp), authorizationpolicy (authz)';

/** Cluster-scoped kinds live in `_` whatever `-n` says. */
export function namespaceFor(kind: Kind, namespace: string | undefined, fallback: string): string {
  return isClusterScoped(kind) ? CLUSTER_NAMESPACE : (namespace ?? fallback);
}

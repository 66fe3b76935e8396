import { invalid } from '../errors.js';
import {
  CLUSTER_NAMESPACE,
  configKey,
  HEALTHY_COUNT_ANNOTATION,
  OWNER_ANNOTATION,
  viewKey,
} from '../names.js';
import type { Kind } from './kinds.js';
import { isClusterScoped } from './registry.js';
import { parseLabelSelector, splitServiceRef } from './schemas.js';
import type { Endpoint, Resource, ResourceOf, ResourceRef } from './types.js';

/** Identity of a resource; cluster-scoped kinds get namespace `_` as in KV keys and REST paths. */
export function refOf(resource: Resource): ResourceRef {
  return {
    kind: resource.kind,
    namespace: isClusterScoped(resource.kind)
      ? CLUSTER_NAMESPACE
      : (resource.metadata.namespace ?? CLUSTER_NAMESPACE),
    name: resource.metadata.name,
  };
}

/** `<kind>/<namespace>/<name>`, the key of a resource inside a region view. */
export function resourceViewKey(resource: Resource): string {
  const r = refOf(resource);
  return viewKey(r.kind, r.namespace, r.name);
}

/** `<kind>.<namespace>.<name>`, the key of a resource in the config KV bucket. */
export function resourceConfigKey(resource: Resource): string {
  const r = refOf(resource);
  return configKey(r.kind, r.namespace, r.name);
}

export function refKey(ref: ResourceRef): string {
  return viewKey(ref.kind, ref.namespace, ref.name);
}

export function isKind<K extends Kind>(resource: Resource, kind: K): resource is ResourceOf<K> & Resource {
  return resource.kind === kind;
}

/** Weight of an endpoint; absent means 1. */
export function endpointWeight(e: Pick<Endpoint, 'weight'>): number {
  return e.weight ?? 1;
}

/** Health of an endpoint; absent means healthy. */
export function endpointHealthy(e: Pick<Endpoint, 'healthy'>): boolean {
  return e.healthy ?? true;
}

/**
 * How many endpoints of a ServiceEndpoints are healthy: what other regions' gateway entries are
 * weighted by. An agent-owned one may carry the count its agent reported before the detail
 * (`fedmesh.io/healthy-count`); that count leads until the detail arrives.
 */
export function healthyCountOf(e: {
  metadata: { annotations?: Record<string, string> };
  spec: { endpoints: readonly Pick<Endpoint, 'healthy'>[] };
}): number {
  const reported = e.metadata.annotations?.[HEALTHY_COUNT_ANNOTATION];
  if (reported !== undefined && e.metadata.annotations?.[OWNER_ANNOTATION] !== undefined) {
    const n = Number(reported);
    if (Number.isInteger(n) && n >= 0) return n;
  }
  let n = 0;
  for (const ep of e.spec.endpoints) if (endpointHealthy(ep)) n++;
  return n;
}

/** Labels of a region that `exportTo` selectors match: metadata labels overlaid by spec labels. */
export function regionLabels(region: ResourceOf<'Region'>): Record<string, string> {
  return { ...region.metadata.labels, ...region.spec.labels };
}

/** Resolves a `dependsOn` entry (or caller identity) `"ns/name"` or `"name"` against its own namespace. */
export function parseDependsOn(ref: string, ownNamespace: string): { namespace: string; name: string } {
  const parsed = splitServiceRef(ref);
  if (!parsed) throw invalid([{ path: '', message: `invalid service reference ${JSON.stringify(ref)}` }]);
  return { namespace: parsed.namespace ?? ownNamespace, name: parsed.name };
}

/**
 * Whether a Service is exported to a region: absent or empty `exportTo` and `'*'` mean all
 * regions; otherwise an entry must be the region's name or a `k=v[,k=v]` selector whose every
 * pair is among the region's labels.
 */
export function exportMatches(service: ResourceOf<'Service'>, region: ResourceOf<'Region'>): boolean {
  const targets = service.spec.exportTo;
  if (!targets || targets.length === 0) return true;
  let labels: Record<string, string> | undefined;
  for (const t of targets) {
    if (t === '*' || t === region.metadata.name) return true;
    const selector = parseLabelSelector(t);
    if (!selector) continue;
    labels ??= regionLabels(region);
    const l = labels;
    if (Object.entries(selector).every(([k, v]) => Object.hasOwn(l, k) && l[k] === v)) return true;
  }
  return false;
}

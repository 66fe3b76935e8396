import { z } from 'zod';
import { KINDS, Kind, Scope } from './kinds.js';
import { manifestSchema, SPEC_SCHEMAS } from './schemas.js';
import type { KindInfo } from './types.js';

/**
 * The one place that knows every kind. Sync, scoping, REST and OpenAPI code iterate this
 * instead of keeping their own lists, so adding a kind is a change here and in `schemas.ts`.
 */
const DESCRIPTIONS: Record<Kind, [Scope, string]> = {
  Region: [
    Scope.Cluster,
    'A cluster, IDC or VM site: labels, config-sync link budget, uplink budget, gateway.',
  ],
  Service: [Scope.Namespaced, 'A service: ports, the regions it is exported to and the services it calls.'],
  ServiceEndpoints: [
    Scope.Namespaced,
    'The endpoints of one service in one region, usually reported by its agent.',
  ],
  TrafficRoute: [
    Scope.Namespaced,
    'Routing for one service: ordered rules, weighted subsets, timeouts, retries, failover.',
  ],
  TrafficPolicy: [
    Scope.Namespaced,
    'Subsets, load balancing, circuit breaking and outlier detection for one service.',
  ],
  AuthorizationPolicy: [Scope.Namespaced, 'Allow or deny rules for the callers of one service.'],
};

function build<K extends Kind>(kind: K): KindInfo<K> {
  const [scope, description] = DESCRIPTIONS[kind];
  return Object.freeze({
    kind,
    scope,
    description,
    specSchema: SPEC_SCHEMAS[kind] as unknown as KindInfo<K>['specSchema'],
    manifestSchema: manifestSchema(kind, scope),
  });
}

const REGISTRY: { readonly [K in Kind]: KindInfo<K> } = Object.freeze({
  Region: build(Kind.Region),
  Service: build(Kind.Service),
  ServiceEndpoints: build(Kind.ServiceEndpoints),
  TrafficRoute: build(Kind.TrafficRoute),
  TrafficPolicy: build(Kind.TrafficPolicy),
  AuthorizationPolicy: build(Kind.AuthorizationPolicy),
});

export function isKnownKind(s: unknown): s is Kind {
  return typeof s === 'string' && Object.hasOwn(REGISTRY, s);
}

/** Registry entry of a kind; throws on an unknown kind (check with `isKnownKind` first). */
export function kindInfo<K extends Kind>(kind: K): KindInfo<K> {
  const info = REGISTRY[kind];
  if (!info) throw new TypeError(`unknown kind ${JSON.stringify(kind)}`);
  return info;
}

export function kindScope(kind: Kind): Scope {
  return kindInfo(kind).scope;
}
export function isClusterScoped(kind: Kind): boolean {
  return kindScope(kind) === Scope.Cluster;
}
export const CLUSTER_KINDS: readonly Kind[] = Object.freeze(KINDS.filter(isClusterScoped));
export const NAMESPACED_KINDS: readonly Kind[] = Object.freeze(KINDS.filter((k) => !isClusterScoped(k)));

export type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema (draft 2020-12) of each kind's manifest as accepted on input, for OpenAPI.
 * Refinements (uniqueness, quantity syntax) cannot be expressed and are left to the server.
 */
export function manifestJsonSchemas(): Record<Kind, JsonSchema> {
  const out = {} as Record<Kind, JsonSchema>;
  for (const kind of KINDS) {
    const info = kindInfo(kind);
    const schema = z.toJSONSchema(info.manifestSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
    out[kind] = { ...schema, title: kind, description: info.description };
  }
  return out;
}

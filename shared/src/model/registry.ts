import { z } from 'zod';
import { KINDS, Kind, Scope, ScopingRole } from './kinds.js';
import { manifestSchema, SPEC_SCHEMAS } from './schemas.js';
import type { KindInfo } from './types.js';

/**
 * The one place that knows every kind and its behaviour (Kuma's `ResourceTypeDescriptor`). Sync,
 * scoping, REST, OpenAPI, apply and the CLI read this instead of keeping their own lists, so
 * adding a kind is an entry here, its schema in `schemas.ts` and its translator in the agent.
 */
const ENTRIES: Record<Kind, Omit<KindInfo, 'kind' | 'specSchema' | 'manifestSchema'>> = {
  Region: {
    scope: Scope.Cluster,
    description: 'A cluster, IDC or VM site: labels, config-sync link budget, uplink budget, gateway.',
    applyOrder: 0,
    aliases: ['region', 'regions'],
    role: ScopingRole.Region,
  },
  Service: {
    scope: Scope.Namespaced,
    description: 'A service: ports, the regions it is exported to and the services it calls.',
    applyOrder: 1,
    aliases: ['service', 'services', 'svc'],
    role: ScopingRole.Service,
  },
  ServiceEndpoints: {
    scope: Scope.Namespaced,
    description: 'The endpoints of one service in one region, usually reported by its agent.',
    applyOrder: 3,
    aliases: ['serviceendpoints', 'endpoints', 'ep'],
    role: ScopingRole.Endpoints,
  },
  TrafficRoute: {
    scope: Scope.Namespaced,
    description: 'Routing for one service: ordered rules, weighted subsets, timeouts, retries, failover.',
    // After TrafficPolicy: its backends name the policy's subsets.
    applyOrder: 4,
    aliases: ['trafficroute', 'trafficroutes', 'tr'],
    role: ScopingRole.Attached,
  },
  TrafficPolicy: {
    scope: Scope.Namespaced,
    description: 'Subsets, load balancing, circuit breaking and outlier detection for one service.',
    applyOrder: 2,
    aliases: ['trafficpolicy', 'trafficpolicies', 'tp'],
    role: ScopingRole.Attached,
  },
  AuthorizationPolicy: {
    scope: Scope.Namespaced,
    description: 'Allow or deny rules for the callers of one service.',
    applyOrder: 5,
    aliases: ['authorizationpolicy', 'authorizationpolicies', 'authz'],
    role: ScopingRole.Attached,
  },
};

function build<K extends Kind>(kind: K): KindInfo<K> {
  const entry = ENTRIES[kind];
  return Object.freeze({
    kind,
    ...entry,
    aliases: Object.freeze([...entry.aliases]),
    specSchema: SPEC_SCHEMAS[kind] as unknown as KindInfo<K>['specSchema'],
    manifestSchema: manifestSchema(kind, entry.scope),
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
/**
 * Kinds in the order writes go (`POST /v1/apply`): what others refer to first, so the config never
 * holds a route whose subsets or service are not there yet, even for a moment.
 */
export const APPLY_ORDER: readonly Kind[] = Object.freeze(
  [...KINDS].sort((a, b) => kindInfo(a).applyOrder - kindInfo(b).applyOrder),
);

/** Every word the CLI accepts for a kind (lowercase), from the registry's aliases. */
export const KIND_ALIASES: ReadonlyMap<string, Kind> = new Map(
  KINDS.flatMap((k) => kindInfo(k).aliases.map((a) => [a, k] as const)),
);

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

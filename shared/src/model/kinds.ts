/** The only API version fedmesh speaks; a new one would get its own schemas, not a flag. */
export const API_VERSION = 'fedmesh.io/v1';
export type ApiVersion = typeof API_VERSION;

/** Every resource kind. A const object plus a same-named type instead of a TS enum. */
export const Kind = {
  Region: 'Region',
  Service: 'Service',
  ServiceEndpoints: 'ServiceEndpoints',
  TrafficRoute: 'TrafficRoute',
  TrafficPolicy: 'TrafficPolicy',
  AuthorizationPolicy: 'AuthorizationPolicy',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/** All kinds, in registry order (the order listings use); the order writes go is `APPLY_ORDER`. */
export const KINDS: readonly Kind[] = Object.freeze([
  Kind.Region,
  Kind.Service,
  Kind.ServiceEndpoints,
  Kind.TrafficPolicy,
  Kind.TrafficRoute,
  Kind.AuthorizationPolicy,
]);

export const Scope = {
  Cluster: 'cluster',
  Namespaced: 'namespaced',
} as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/**
 * What a kind is to the scoping rule: a Region, a Service, a ServiceEndpoints (local or
 * aggregated per region), or something attached to one service (`spec.service`) that goes
 * wherever that service goes.
 */
export const ScopingRole = {
  Region: 'region',
  Service: 'service',
  Endpoints: 'endpoints',
  Attached: 'attached',
} as const;
export type ScopingRole = (typeof ScopingRole)[keyof typeof ScopingRole];

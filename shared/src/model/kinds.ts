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

/** All kinds, in the order in which they are best applied (what others refer to comes first). */
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

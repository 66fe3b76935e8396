import type { ZodType } from 'zod';
import type { ApiVersion, Kind, Scope, ScopingRole } from './kinds.js';

/**
 * The resource model as TypeScript types. The zod schemas in `schemas.ts` are checked against
 * these at compile time, so this file is the readable contract and the schemas cannot drift.
 * Optional fields stay absent when the user left them out; defaults live in reader helpers
 * (`endpointWeight`, `endpointHealthy`, …) so a stored manifest is what the user wrote.
 */

/** Bytes per second, as written: a number or e.g. `"256KiB/s"`, `"2Mbit/s"`. */
export type ByteRateValue = string | number;
/** Bytes, as written: a number or e.g. `"64KiB"`. */
export type ByteSizeValue = string | number;
/** A duration, as written: e.g. `"100ms"`, `"1m30s"`. */
export type DurationValue = string;
export type LabelMap = Record<string, string>;

export interface ObjectMeta {
  name: string;
  /** Absent for cluster-scoped kinds; always set for namespaced kinds after `parseManifest`. */
  namespace?: string;
  labels?: LabelMap;
  annotations?: LabelMap;
}

export interface RegionSpec {
  /** Matched by `exportTo` selectors (`cloud=aws,geo=eu`). Absent means none. */
  labels?: LabelMap;
  /** Downlink budget of the cross-region line for config sync. */
  link?: { budget: ByteRateValue; burst?: ByteSizeValue };
  /** Budget of the status/inventory uplink, usually smaller. */
  uplink?: { budget: ByteRateValue };
  /** East-west gateway that other regions send this region's traffic to. */
  gateway?: { address: string; port: number };
}

export type Protocol = 'http' | 'grpc' | 'tcp';
export interface ServicePort {
  name: string;
  port: number;
  protocol: Protocol;
}
export interface ServiceSpec {
  ports: ServicePort[];
  /** `'*'`, region names or `key=value[,key=value]` selectors. Absent or empty means all regions. */
  exportTo?: string[];
  /** Services this one calls: `"ns/name"` or `"name"` (same namespace). */
  dependsOn?: string[];
}

export interface Endpoint {
  address: string;
  port: number;
  /** Default 1 (see `endpointWeight`). */
  weight?: number;
  zone?: string;
  /** Default true (see `endpointHealthy`). */
  healthy?: boolean;
  labels?: LabelMap;
}
export interface ServiceEndpointsSpec {
  service: string;
  region: string;
  endpoints: Endpoint[];
}

export interface PathMatch {
  prefix?: string;
  exact?: string;
  regex?: string;
}
export interface HeaderMatch {
  name: string;
  exact?: string;
  prefix?: string;
  regex?: string;
  present?: boolean;
}
export interface RouteMatch {
  path?: PathMatch;
  headers?: HeaderMatch[];
  method?: string;
}
export interface RouteBackend {
  /** A subset defined by the service's TrafficPolicy; absent means the whole service. */
  subset?: string;
  weight: number;
}
export interface RetryPolicy {
  attempts: number;
  perTryTimeout?: DurationValue;
  retryOn?: string[];
}
export interface RouteRule {
  name?: string;
  /** Absent or empty matches every request. */
  matches?: RouteMatch[];
  backends: RouteBackend[];
  timeout?: DurationValue;
  retries?: RetryPolicy;
}
export interface TrafficRouteSpec {
  service: string;
  /** Evaluated in order; the first rule that matches wins. */
  rules: RouteRule[];
  /** Region names, in failover order. */
  failover?: string[];
}

export type LoadBalancer = 'round_robin' | 'least_request' | 'ring_hash' | 'random' | 'maglev';
export interface Subset {
  name: string;
  labels: LabelMap;
}
export interface CircuitBreaker {
  maxConnections?: number;
  maxPendingRequests?: number;
  maxRequests?: number;
  maxRetries?: number;
}
export interface OutlierDetection {
  consecutive5xx?: number;
  interval?: DurationValue;
  baseEjectionTime?: DurationValue;
  maxEjectionPercent?: number;
}
export interface TrafficPolicySpec {
  service: string;
  subsets?: Subset[];
  loadBalancer?: LoadBalancer;
  circuitBreaker?: CircuitBreaker;
  outlierDetection?: OutlierDetection;
}

export type AuthorizationAction = 'allow' | 'deny';
export interface AuthorizationRule {
  /** Caller identities: `"ns/name"`, `"name"` (same namespace), `"ns/*"` or `"*"`. */
  from: string[];
  methods?: string[];
  /** Exact paths, or with one leading/trailing `*` (`/api/*`). */
  paths?: string[];
}
export interface AuthorizationPolicySpec {
  service: string;
  action: AuthorizationAction;
  rules: AuthorizationRule[];
}

export interface SpecByKind {
  Region: RegionSpec;
  Service: ServiceSpec;
  ServiceEndpoints: ServiceEndpointsSpec;
  TrafficRoute: TrafficRouteSpec;
  TrafficPolicy: TrafficPolicySpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
}
export type SpecOf<K extends Kind> = SpecByKind[K];

export interface ResourceOf<K extends Kind> {
  apiVersion: ApiVersion;
  kind: K;
  metadata: ObjectMeta;
  spec: SpecOf<K>;
}
/** Any resource, discriminated by `kind`. */
export type Resource = { [K in Kind]: ResourceOf<K> }[Kind];

/** Identity of a resource; cluster-scoped kinds use namespace `_`. */
export interface ResourceRef {
  kind: Kind;
  namespace: string;
  name: string;
}

export interface KindInfo<K extends Kind = Kind> {
  kind: K;
  scope: Scope;
  description: string;
  /** Rank in `POST /v1/apply`: lower goes first (what others refer to). */
  applyOrder: number;
  /** Words `fedmeshctl` accepts for the kind besides its name (lowercase). */
  aliases: readonly string[];
  /** What the kind is to the scoping rule. */
  role: ScopingRole;
  /** Validates a spec as written (input shape; quantities stay strings). */
  specSchema: ZodType<SpecOf<K>>;
  /** Validates a whole manifest as accepted on input (namespace may still be absent). */
  manifestSchema: ZodType;
}

export interface ParseOptions {
  /** Used when a namespaced manifest has no `metadata.namespace` (e.g. from the REST path). */
  defaultNamespace?: string;
}

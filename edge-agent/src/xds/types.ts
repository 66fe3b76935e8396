/**
 * Types shared by the translator and the ADS server. The translator emits plain objects in the
 * field naming of the Envoy v3 protos (snake_case, as @grpc/proto-loader loads them with
 * `keepCase`); embedded `google.protobuf.Any` values are written in the protobuf JSON form
 * `{ '@type': typeUrl, ...fields }`, which the encoder turns into bytes.
 */

/** The four resource types fedmesh serves, in the order a new snapshot is pushed. */
export const TypeUrl = {
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
} as const;
export type TypeUrl = (typeof TypeUrl)[keyof typeof TypeUrl];

/**
 * Make-before-break: clusters and their endpoints exist before a listener or route points at
 * them (the order Envoy's xDS protocol documentation recommends for ADS).
 */
export const PUSH_ORDER: readonly TypeUrl[] = Object.freeze([
  TypeUrl.Cluster,
  TypeUrl.ClusterLoadAssignment,
  TypeUrl.Listener,
  TypeUrl.RouteConfiguration,
]);

export function isTypeUrl(value: string): value is TypeUrl {
  return (PUSH_ORDER as readonly string[]).includes(value);
}

/** LDS and CDS are "full state" in SotW: every response carries the whole set. */
export function isFullStateType(typeUrl: TypeUrl): boolean {
  return typeUrl === TypeUrl.Listener || typeUrl === TypeUrl.Cluster;
}

/** An Envoy resource as a plain object (proto field names). */
export type EnvoyResource = Record<string, unknown>;

/** One named resource of one type, as the translator hands it over. */
export interface NamedResource {
  name: string;
  resource: EnvoyResource;
}

/** The translator's output: Envoy resources per type, plus what it had to leave out and why. */
export interface XdsResources {
  resources: Record<TypeUrl, NamedResource[]>;
  warnings: string[];
}

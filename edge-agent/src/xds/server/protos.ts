import { createRequire } from 'node:module';
import path from 'node:path';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * The Envoy protos are vendored in edge-agent/proto/ (`node scripts/vendor-protos.mjs`), from
 * the upstream revisions its README names, with their license: the revisions the proxyless
 * client we test against (@grpc/grpc-js-xds 1.14) was built with. Changing this list means
 * running that script again.
 */
const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  // Everything the translator embeds must be in the same root, or `@type` cannot be encoded.
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/load_balancing_policies/maglev/v3/maglev.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto',
];

const INCLUDE_DIRS = ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'];

export function protoIncludeDirs(): string[] {
  // Found through the package, so the sources and the release bundle (dist/) find the same dir.
  const require = createRequire(import.meta.url);
  const root = path.join(path.dirname(require.resolve('@fedmesh/edge-agent/package.json')), 'proto');
  return INCLUDE_DIRS.map((dir) => path.join(root, dir));
}

/** A `google.protobuf.Any` with its value already encoded. */
export interface EncodedAny {
  type_url: string;
  value: Buffer;
}

type AdsMethods = 'StreamAggregatedResources' | 'DeltaAggregatedResources';

export interface XdsProtos {
  /** The ADS service definition for `server.addService`. */
  ads: ServiceDefinition;
  /** Encodes one resource (proto field names, nested Any as `@type` objects) into an Any. */
  encodeAny(typeUrl: string, resource: Record<string, unknown>): EncodedAny;
  /** Decodes an Any back into a plain object with nested Anys expanded (`@type`); for tests and debugging. */
  decodeAny(any: EncodedAny): Record<string, unknown>;
}

const BASE_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

function load(json: boolean): protoLoader.PackageDefinition {
  return protoLoader.loadSync(PROTO_FILES, { ...BASE_OPTIONS, json, includeDirs: protoIncludeDirs() });
}

function adsService(
  definition: protoLoader.PackageDefinition,
): Record<AdsMethods, MethodDefinition<unknown, unknown>> {
  const service = definition['envoy.service.discovery.v3.AggregatedDiscoveryService'];
  if (!service || !('StreamAggregatedResources' in service)) {
    throw new Error('AggregatedDiscoveryService not found in the loaded protos');
  }
  return service as unknown as Record<AdsMethods, MethodDefinition<unknown, unknown>>;
}

let cached: XdsProtos | undefined;

/**
 * Loads the protos once per process (about 200 ms). Encoding goes through the public
 * serializers of proto-loader: a resource is serialized as the only member of
 * `DiscoveryResponse.resources` and read back as a raw Any, so each resource is encoded once per
 * snapshot and every response afterwards only copies bytes.
 */
export function loadXdsProtos(): XdsProtos {
  if (cached) return cached;
  const wire = adsService(load(false));
  const sotw = wire.StreamAggregatedResources;
  let jsonSotw: MethodDefinition<unknown, unknown> | undefined;

  cached = {
    ads: wire as unknown as ServiceDefinition,
    encodeAny(typeUrl, resource) {
      const bytes = sotw.responseSerialize({ resources: [{ ...resource, '@type': typeUrl }] });
      const decoded = sotw.responseDeserialize(bytes) as { resources: EncodedAny[] };
      const any = decoded.resources[0];
      if (!any) throw new Error(`encoding a ${typeUrl} produced no Any`);
      return any;
    },
    decodeAny(any) {
      jsonSotw ??= adsService(load(true)).StreamAggregatedResources;
      const bytes = sotw.responseSerialize({ resources: [any] });
      const decoded = jsonSotw.responseDeserialize(bytes) as { resources: Record<string, unknown>[] };
      return decoded.resources[0] ?? {};
    },
  };
  return cached;
}

import { createRequire } from 'node:module';
import type { ViewResource } from '@fedmesh/shared';
import { sampleMesh } from '@fedmesh/shared';
import { beforeAll, describe, expect, test } from 'vitest';
import { type EncodedAny, loadXdsProtos } from '../server/protos.js';
import { manifest, regionView, remoteEndpoints } from '../testing.js';
import { PUSH_ORDER, TypeUrl } from '../types.js';
import { AnyType } from './envoy.js';
import { authorizationToRbac, translateView } from './index.js';

/**
 * The translator's output checked by the client that will consume it: grpc-js-xds's own resource
 * validators (internal modules, so this test pins the installed version's behaviour), and a
 * protobuf round trip that catches misspelled fields, which protobufjs would drop silently.
 */
const require = createRequire(import.meta.url);
// The RBAC filter registers only with this set; it must be set before the package loads.
process.env.GRPC_XDS_EXPERIMENTAL_RBAC = 'true';

// Tests poke at arbitrary depths of untyped Envoy objects; typing every path would only add noise.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Loose = any;

type Decoded = { name: string; value?: Record<string, Loose>; error?: string };
interface ResourceType {
  get(): { decode(context: unknown, any: EncodedAny): Decoded };
}
let validators: Record<TypeUrl, ResourceType>;
let httpFilter: { parseTopLevelFilterConfig(any: EncodedAny, client: boolean): unknown };
let routeMatcher: {
  getPredicateForMatcher(match: unknown): { apply(methodName: string, metadata: unknown): boolean };
};

beforeAll(() => {
  require('@grpc/grpc-js-xds').register();
  const base = '@grpc/grpc-js-xds/build/src/xds-resource-type/';
  validators = {
    [TypeUrl.Listener]: require(`${base}listener-resource-type.js`).ListenerResourceType,
    [TypeUrl.RouteConfiguration]: require(`${base}route-config-resource-type.js`)
      .RouteConfigurationResourceType,
    [TypeUrl.Cluster]: require(`${base}cluster-resource-type.js`).ClusterResourceType,
    [TypeUrl.ClusterLoadAssignment]: require(`${base}endpoint-resource-type.js`).EndpointResourceType,
  };
  httpFilter = require('@grpc/grpc-js-xds/build/src/http-filter.js');
  routeMatcher = require('@grpc/grpc-js-xds/build/src/route.js');
});

const NS = 'shop';
function richView(loadBalancer: string) {
  const manifests: ViewResource[] = [
    ...sampleMesh().filter((m) => m.kind !== 'TrafficPolicy'),
    manifest('TrafficPolicy', NS, 'payments', {
      service: 'payments',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
      loadBalancer,
      circuitBreaker: { maxConnections: 10, maxPendingRequests: 10, maxRequests: 10, maxRetries: 2 },
      outlierDetection: { consecutive5xx: 3, interval: '5s', baseEjectionTime: '1m', maxEjectionPercent: 30 },
    }),
    manifest('TrafficRoute', NS, 'checkout', {
      service: 'checkout',
      rules: [
        {
          name: 'api',
          matches: [
            {
              path: { regex: '^/checkout\\..*' },
              headers: [
                { name: 'x-a', regex: 'b+' },
                { name: 'x-p', present: true },
              ],
            },
            { path: { exact: '/checkout.v1.Checkout/Pay' }, method: 'POST' },
          ],
          backends: [{ weight: 1 }],
          timeout: '1.5s',
          retries: { attempts: 3, retryOn: ['5xx', 'deadline-exceeded', '409'] },
        },
        {
          name: 'canary',
          matches: [
            {
              headers: [
                { name: 'x-canary', exact: 'yes' },
                { name: 'x-tenant', prefix: 'beta-' },
                { name: 'x-pinned', present: false },
              ],
            },
          ],
          backends: [{ weight: 1 }],
        },
      ],
    }),
    remoteEndpoints(NS, 'payments', 'us-east', { address: '192.0.2.10', port: 15443 }, 2),
    remoteEndpoints(NS, 'payments', 'ap-south', { address: '2001:db8::10', port: 15443 }, 1),
  ];
  return regionView('eu-west', 3, manifests);
}

describe('grpc-js-xds accepts what the translator produces', () => {
  test.each(['round_robin', 'ring_hash', 'least_request', 'random', 'maglev'])(
    'with load balancer %s',
    (lb) => {
      const out = translateView(richView(lb));
      const protos = loadXdsProtos();
      const context = { bootstrap: { certificateProviders: {} }, server: {} };
      let count = 0;
      for (const typeUrl of PUSH_ORDER) {
        for (const { name, resource } of out.resources[typeUrl]) {
          const decoded = validators[typeUrl].get().decode(context, protos.encodeAny(typeUrl, resource));
          expect(decoded.error, `${typeUrl} ${name}`).toBeUndefined();
          expect(decoded.name).toBe(name);
          count++;
        }
      }
      expect(count).toBeGreaterThan(12);
    },
  );

  test('gRPC picks round robin over localities for least_request and random, ring hash for maglev', () => {
    const protos = loadXdsProtos();
    const lbConfig = (lb: string) => {
      const cluster = translateView(richView(lb)).resources[TypeUrl.Cluster].find(
        (c) => c.name === 'payments.shop',
      )!;
      const decoded = validators[TypeUrl.Cluster]
        .get()
        .decode({}, protos.encodeAny(TypeUrl.Cluster, cluster.resource));
      return decoded.value?.lbPolicyConfig;
    };
    const roundRobin = [{ xds_wrr_locality: { child_policy: [{ round_robin: {} }] } }];
    const ringHash = [{ ring_hash: { min_ring_size: 1024, max_ring_size: 8388608 } }];
    expect(lbConfig('round_robin')).toEqual(roundRobin);
    expect(lbConfig('least_request')).toEqual(roundRobin);
    expect(lbConfig('random')).toEqual(roundRobin);
    expect(lbConfig('ring_hash')).toEqual(ringHash);
    expect(lbConfig('maglev')).toEqual(ringHash);
  });

  test('header matchers route in grpc-js-xds as the model means them, an absent header included', () => {
    const protos = loadXdsProtos();
    const config = translateView(richView('round_robin')).resources[TypeUrl.RouteConfiguration].find(
      (r) => r.name === 'checkout.shop',
    )!;
    const decoded = validators[TypeUrl.RouteConfiguration]
      .get()
      .decode({}, protos.encodeAny(TypeUrl.RouteConfiguration, config.resource));
    expect(decoded.error).toBeUndefined();
    const canary = decoded.value!.virtual_hosts[0].routes.find((r: Loose) => r.name === 'canary');
    const matcher = routeMatcher.getPredicateForMatcher(canary.match);
    const { Metadata } = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    const matches = (headers: Record<string, string>) => {
      const metadata = new Metadata();
      for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
      return matcher.apply('/checkout.v1.Checkout/Pay', metadata);
    };
    expect(matches({ 'x-canary': 'yes', 'x-tenant': 'beta-7' })).toBe(true);
    expect(matches({ 'x-canary': 'no', 'x-tenant': 'beta-7' })).toBe(false);
    expect(matches({ 'x-canary': 'yes', 'x-tenant': 'prod' })).toBe(false);
    expect(matches({ 'x-canary': 'yes', 'x-tenant': 'beta-7', 'x-pinned': '1' })).toBe(false);
  });

  test('the RBAC filters built from AuthorizationPolicies parse as gRPC server filters', () => {
    const protos = loadXdsProtos();
    const policies = sampleMesh().filter((m) => m.kind === 'AuthorizationPolicy') as Parameters<
      typeof authorizationToRbac
    >[0];
    const deny = manifest('AuthorizationPolicy', NS, 'no-admin', {
      service: 'payments',
      action: 'deny',
      rules: [{ from: ['*'], methods: ['DELETE'], paths: ['/admin/*', '*/debug'] }],
    }) as Parameters<typeof authorizationToRbac>[0][number];
    const filters = authorizationToRbac([...policies, deny]);
    expect(filters.map((f) => f.name)).toEqual([
      'envoy.filters.http.rbac.deny',
      'envoy.filters.http.rbac.allow',
    ]);
    const [denyFilter, allowFilter] = filters.map((filter) => {
      const parsed = httpFilter.parseTopLevelFilterConfig(
        protos.encodeAny(AnyType.Rbac, filter.typed_config as Record<string, unknown>),
        false,
      ) as { config: { apply(info: unknown): boolean } } | null;
      expect(parsed).not.toBeNull();
      return parsed!.config;
    });
    const { Metadata } = require('@grpc/grpc-js') as typeof import('@grpc/grpc-js');
    const call = (caller: string, method: string, path: string) => {
      const headers = new Metadata();
      headers.set(':method', method);
      return {
        headers,
        urlPath: path,
        tls: true,
        peerCertificate: { subjectaltname: `URI:spiffe://fedmesh.local/ns/shop/sa/${caller}`, subject: {} },
        sourceIp: '10.0.0.1',
        sourcePort: 1234,
        destinationIp: '10.0.0.2',
        destinationPort: 9091,
      };
    };
    // apply() is true when the call may proceed.
    expect(allowFilter!.apply(call('checkout', 'POST', '/payments.v1.Payments/Pay'))).toBe(true);
    expect(allowFilter!.apply(call('frontend', 'POST', '/payments.v1.Payments/Pay'))).toBe(false);
    expect(allowFilter!.apply(call('checkout', 'POST', '/other.Service/Call'))).toBe(false);
    expect(denyFilter!.apply(call('checkout', 'DELETE', '/admin/users'))).toBe(false);
    expect(denyFilter!.apply(call('checkout', 'DELETE', '/x/debug'))).toBe(false);
    expect(denyFilter!.apply(call('checkout', 'GET', '/admin/users'))).toBe(true);
  });
});

describe('encoding', () => {
  test('every field the translator writes survives a protobuf round trip, whatever the load balancer', () => {
    const protos = loadXdsProtos();
    for (const lb of ['round_robin', 'ring_hash', 'least_request', 'random', 'maglev']) {
      roundTrip(protos, translateView(richView(lb)));
    }
  });
});

function roundTrip(protos: ReturnType<typeof loadXdsProtos>, out: ReturnType<typeof translateView>): void {
  for (const typeUrl of PUSH_ORDER) {
    for (const { name, resource } of out.resources[typeUrl]) {
      const decoded = protos.decodeAny(protos.encodeAny(typeUrl, resource));
      expectContained(resource, decoded, `${typeUrl} ${name}`);
    }
  }
}

/** Every value in `expected` is in `actual` (which also has proto defaults); int64s come back as strings. */
function expectContained(expected: unknown, actual: unknown, path: string): void {
  if (expected !== null && typeof expected === 'object') {
    expect(actual, path).toBeTypeOf('object');
    for (const [key, value] of Object.entries(expected)) {
      expectContained(value, (actual as Record<string, unknown>)[key], `${path}.${key}`);
    }
    return;
  }
  if (typeof expected === 'number' && typeof actual === 'string') {
    expect(Number(actual), path).toBe(expected);
    return;
  }
  expect(actual, path).toEqual(expected);
}

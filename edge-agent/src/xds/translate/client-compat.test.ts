import { describe, expect, test } from 'vitest';
import { loadXdsProtos } from '../server/protos.js';
import { manifest, regionView } from '../testing.js';
import { TypeUrl } from '../types.js';
import { AnyType } from './envoy.js';
import { translateView } from './index.js';

/**
 * What the translator writes for clients of different ages (docs/xds.md), read back the way a
 * client reads it: encoded with the Envoy protos and decoded again, so that a field protobufjs
 * does not know, or a oneof member other than the one meant, shows here.
 */

// Tests poke at arbitrary depths of untyped Envoy objects; typing every path would only add noise.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Loose = any;

const NS = 'shop';
const protos = loadXdsProtos();

function translated(spec: { loadBalancer?: string; headers?: unknown[]; method?: string }) {
  const view = regionView('eu-west', 1, [
    manifest('Service', NS, 'payments', { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] }),
    manifest('TrafficPolicy', NS, 'payments', {
      service: 'payments',
      ...(spec.loadBalancer ? { loadBalancer: spec.loadBalancer } : {}),
    }),
    manifest('TrafficRoute', NS, 'payments', {
      service: 'payments',
      rules: [
        {
          name: 'r',
          matches: [
            {
              ...(spec.headers ? { headers: spec.headers } : {}),
              ...(spec.method ? { method: spec.method } : {}),
            },
          ],
          backends: [{ weight: 1 }],
        },
      ],
    }),
  ]);
  const out = translateView(view);
  expect(out.warnings).toEqual([]);
  return out;
}

function decoded(typeUrl: TypeUrl, resource: Record<string, unknown>): Loose {
  return protos.decodeAny(protos.encodeAny(typeUrl, resource));
}

describe('what clients of every age are sent', () => {
  test('header matchers decode as the pre-A63 members of header_match_specifier, which gRPC C-core before 1.56 knows', () => {
    const out = translated({
      headers: [
        { name: 'x-exact', exact: 'yes' },
        { name: 'x-prefix', prefix: 'beta-' },
        { name: 'x-any', prefix: '' },
        { name: 'x-regex', regex: 'v[0-9]+' },
        { name: 'x-present', present: true },
        { name: 'x-absent', present: false },
      ],
      method: 'POST',
    });
    const [config] = out.resources[TypeUrl.RouteConfiguration];
    const route = decoded(TypeUrl.RouteConfiguration, config!.resource).virtual_hosts[0].routes[0];
    const headers = route.match.headers.map((h: Loose) => ({
      name: h.name,
      specifier: h.header_match_specifier,
      value: h[h.header_match_specifier],
      invert: h.invert_match,
      string_match: h.string_match,
    }));
    expect(headers).toEqual([
      { name: 'x-exact', specifier: 'exact_match', value: 'yes', invert: false, string_match: undefined },
      { name: 'x-prefix', specifier: 'prefix_match', value: 'beta-', invert: false, string_match: undefined },
      // Envoy refuses an empty prefix_match; an empty prefix matches any value there is.
      { name: 'x-any', specifier: 'present_match', value: true, invert: false, string_match: undefined },
      {
        name: 'x-regex',
        specifier: 'safe_regex_match',
        value: expect.objectContaining({ regex: 'v[0-9]+' }),
        invert: false,
        string_match: undefined,
      },
      { name: 'x-present', specifier: 'present_match', value: true, invert: false, string_match: undefined },
      // Absent is presence inverted: grpc-js-xds reads `present_match: false` as "present".
      { name: 'x-absent', specifier: 'present_match', value: true, invert: true, string_match: undefined },
      { name: ':method', specifier: 'exact_match', value: 'POST', invert: false, string_match: undefined },
    ]);
  });

  const lbPolicies = (cluster: Loose) =>
    cluster.load_balancing_policy?.policies.map((p: Loose) => p.typed_extension_config.typed_config);

  test.each([
    ['round_robin', 'ROUND_ROBIN'],
    ['ring_hash', 'RING_HASH'],
  ])('load balancer %s is the enum %s alone, which every client reads', (lb, enumValue) => {
    const out = translated({ loadBalancer: lb });
    for (const { name, resource } of out.resources[TypeUrl.Cluster]) {
      const cluster = decoded(TypeUrl.Cluster, resource);
      expect(cluster.lb_policy, name).toBe(enumValue);
      expect(cluster.load_balancing_policy, name).toBeNull();
      if (lb === 'ring_hash') expect(cluster.ring_hash_lb_config.hash_function).toBe('XX_HASH');
    }
  });

  test.each([
    ['least_request', AnyType.LeastRequest, AnyType.WrrLocality],
    ['random', AnyType.Random, AnyType.WrrLocality],
    ['maglev', AnyType.Maglev, AnyType.RingHash],
  ])(
    "load balancer %s: ROUND_ROBIN for clients reading only the enum, the policy then gRPC's nearest for the rest",
    (lb, first, fallback) => {
      const out = translated({ loadBalancer: lb });
      const cluster = decoded(TypeUrl.Cluster, out.resources[TypeUrl.Cluster][0]!.resource);
      // Any other enum value NACKs the cluster on gRPC that reads only the enum (C-core 1.51:
      // "LB policy is not supported"); ring hash without a hash policy would buy gRPC nothing.
      expect(cluster.lb_policy).toBe('ROUND_ROBIN');
      expect(cluster.ring_hash_lb_config).toBeUndefined();
      const [asked, nearest, ...rest] = lbPolicies(cluster);
      expect(rest).toEqual([]);
      expect(asked['@type']).toBe(first);
      expect(nearest['@type']).toBe(fallback);
      // Envoy's typed policies take locality weighting from their own config, not common_lb_config.
      if (lb === 'maglev') {
        expect(asked.locality_weighted_lb_config).toEqual({});
        expect(nearest.hash_function).toBe('XX_HASH');
      } else {
        expect(asked.locality_lb_config.locality_config_specifier).toBe('locality_weighted_lb_config');
        const inner = nearest.endpoint_picking_policy.policies.map(
          (p: Loose) => p.typed_extension_config.typed_config['@type'],
        );
        expect(inner).toEqual([AnyType.RoundRobin]);
      }
    },
  );
});

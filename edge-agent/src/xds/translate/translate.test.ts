import type { ViewResource } from '@fedmesh/shared';
import { describe, expect, test } from 'vitest';
import { checkConsistency } from '../server/snapshot.js';
import { manifest, regionView, remoteEndpoints } from '../testing.js';
import { TypeUrl, type XdsResources } from '../types.js';
import { apiListeners, type ListenerBuilder, translateView } from './index.js';

// Tests poke at arbitrary depths of untyped Envoy objects; typing every path would only add noise.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Loose = any;

const NS = 'shop';
const REGION = 'eu-west';

const service = (name: string, protocol: 'grpc' | 'http' | 'tcp' = 'grpc') =>
  manifest('Service', NS, name, { ports: [{ name: protocol, port: 9091, protocol }] });
const endpoints = (svc: string, eps: unknown[], region = REGION) =>
  manifest('ServiceEndpoints', NS, `${svc}-${region}`, { service: svc, region, endpoints: eps });
const policy = (svc: string, spec: Record<string, unknown>) =>
  manifest('TrafficPolicy', NS, svc, { service: svc, ...spec });
const route = (svc: string, spec: Record<string, unknown>) =>
  manifest('TrafficRoute', NS, svc, { service: svc, ...spec });
const subsets = policy('payments', {
  subsets: [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
  ],
});
const paymentsEndpoints = endpoints('payments', [
  { address: '10.0.0.2', port: 9091, zone: 'b', labels: { version: 'v2' } },
  { address: '10.0.0.1', port: 9091, zone: 'a', labels: { version: 'v1' } },
  { address: '10.0.0.3', port: 9091, zone: 'a', weight: 3, labels: { version: 'v1' } },
]);

function translate(manifests: ViewResource[]): XdsResources {
  const out = translateView(regionView(REGION, 1, manifests));
  expect(checkConsistency(out)).toEqual([]);
  return out;
}
function get(out: XdsResources, type: TypeUrl, name: string): Record<string, Loose> {
  const found = out.resources[type].find((r) => r.name === name);
  if (!found)
    throw new Error(`${type} ${name} not found among ${out.resources[type].map((r) => r.name).join(', ')}`);
  return found.resource;
}
const names = (out: XdsResources, type: TypeUrl) => out.resources[type].map((r) => r.name);

describe('translator', () => {
  test('a service becomes an api_listener with RDS over ADS, a route configuration, a cluster and its endpoints', () => {
    const out = translate([service('payments'), paymentsEndpoints]);
    expect(out.warnings).toEqual([]);
    expect(get(out, TypeUrl.Listener, 'payments.shop')).toEqual({
      name: 'payments.shop',
      api_listener: {
        api_listener: {
          '@type':
            'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'payments.shop',
          rds: { route_config_name: 'payments.shop', config_source: { ads: {}, resource_api_version: 'V3' } },
          http_filters: [
            {
              name: 'envoy.filters.http.router',
              typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
            },
          ],
        },
      },
    });
    expect(get(out, TypeUrl.RouteConfiguration, 'payments.shop')).toEqual({
      name: 'payments.shop',
      virtual_hosts: [
        {
          name: 'payments.shop',
          domains: ['payments.shop', 'payments.shop:9091'],
          routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: 'payments.shop' } }],
        },
      ],
    });
    expect(get(out, TypeUrl.Cluster, 'payments.shop')).toMatchObject({
      type: 'EDS',
      eds_cluster_config: {
        eds_config: { ads: {}, resource_api_version: 'V3' },
        service_name: 'payments.shop',
      },
      lb_policy: 'ROUND_ROBIN',
    });
    const cla = get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop');
    expect(cla.endpoints).toEqual([
      {
        locality: { region: REGION, zone: 'a' },
        lb_endpoints: [lbEndpoint('10.0.0.1', 9091, 1), lbEndpoint('10.0.0.3', 9091, 3)],
        load_balancing_weight: { value: 4 },
        priority: 0,
      },
      {
        locality: { region: REGION, zone: 'b' },
        lb_endpoints: [lbEndpoint('10.0.0.2', 9091, 1)],
        load_balancing_weight: { value: 1 },
        priority: 0,
      },
    ]);
  });

  test('TrafficRoute rules become routes over weighted subset clusters, with timeout and retries', () => {
    const out = translate([
      service('payments'),
      paymentsEndpoints,
      subsets,
      route('payments', {
        rules: [
          {
            name: 'canary',
            backends: [
              { subset: 'v1', weight: 80 },
              { subset: 'v2', weight: 20 },
            ],
            timeout: '2s',
            retries: { attempts: 2, perTryTimeout: '500ms', retryOn: ['unavailable', '503'] },
          },
        ],
      }),
    ]);
    expect(names(out, TypeUrl.Cluster)).toEqual(['payments.shop', 'payments.shop|v1', 'payments.shop|v2']);
    const routes = get(out, TypeUrl.RouteConfiguration, 'payments.shop').virtual_hosts[0].routes;
    // The rule matches everything, so no fallback route follows it.
    expect(routes).toEqual([
      {
        name: 'canary',
        match: { prefix: '/' },
        route: {
          weighted_clusters: {
            clusters: [
              { name: 'payments.shop|v1', weight: { value: 80 } },
              { name: 'payments.shop|v2', weight: { value: 20 } },
            ],
          },
          timeout: { seconds: 2, nanos: 0 },
          max_stream_duration: { max_stream_duration: { seconds: 2, nanos: 0 } },
          retry_policy: {
            retry_on: 'unavailable,retriable-status-codes',
            retriable_status_codes: [503],
            num_retries: { value: 2 },
            per_try_timeout: { seconds: 0, nanos: 500_000_000 },
          },
        },
      },
    ]);
  });

  test('matches become path, header and method matchers, one route per match, then a fallback to the whole service', () => {
    const out = translate([
      service('payments'),
      subsets,
      route('payments', {
        rules: [
          {
            name: 'beta',
            matches: [
              {
                headers: [
                  { name: 'x-beta', exact: 'yes' },
                  { name: 'x-debug', present: false },
                ],
              },
              { path: { regex: '^/payments\\.v1\\.Payments/Refund.*' }, method: 'POST' },
            ],
            backends: [{ subset: 'v2', weight: 1 }],
          },
          {
            matches: [
              { path: { exact: '/health' } },
              { path: { prefix: '/p' }, headers: [{ name: 'x-t', prefix: 'a' }] },
            ],
            backends: [{ subset: 'v1', weight: 1 }],
          },
        ],
      }),
    ]);
    const routes = get(out, TypeUrl.RouteConfiguration, 'payments.shop').virtual_hosts[0].routes;
    expect(routes).toEqual([
      {
        name: 'beta-0',
        match: {
          prefix: '/',
          headers: [
            { name: 'x-beta', exact_match: 'yes' },
            { name: 'x-debug', present_match: true, invert_match: true },
          ],
        },
        route: { cluster: 'payments.shop|v2' },
      },
      {
        name: 'beta-1',
        match: {
          safe_regex: { regex: '^/payments\\.v1\\.Payments/Refund.*' },
          headers: [{ name: ':method', exact_match: 'POST' }],
        },
        route: { cluster: 'payments.shop|v2' },
      },
      { name: 'rule-1-0', match: { path: '/health' }, route: { cluster: 'payments.shop|v1' } },
      {
        name: 'rule-1-1',
        match: { prefix: '/p', headers: [{ name: 'x-t', prefix_match: 'a' }] },
        route: { cluster: 'payments.shop|v1' },
      },
      { name: 'default', match: { prefix: '/' }, route: { cluster: 'payments.shop' } },
    ]);
  });

  test('zero-weight backends stay in weighted_clusters so that shifting back needs no new cluster', () => {
    const out = translate([
      service('payments'),
      subsets,
      route('payments', {
        rules: [
          {
            backends: [
              { subset: 'v1', weight: 0 },
              { subset: 'v2', weight: 100 },
            ],
          },
        ],
      }),
    ]);
    const [first] = get(out, TypeUrl.RouteConfiguration, 'payments.shop').virtual_hosts[0].routes;
    expect(first.route.weighted_clusters.clusters).toEqual([
      { name: 'payments.shop|v1', weight: { value: 0 } },
      { name: 'payments.shop|v2', weight: { value: 100 } },
    ]);
  });

  test('subset clusters hold only matching local endpoints; remote gateways go only into the whole-service cluster', () => {
    const out = translate([
      service('payments'),
      paymentsEndpoints,
      subsets,
      remoteEndpoints(NS, 'payments', 'us-east', { address: '192.0.2.10', port: 15443 }, 4),
    ]);
    const v1 = get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop|v1');
    expect(
      v1.endpoints.flatMap((l: Loose) =>
        l.lb_endpoints.map((e: Loose) => e.endpoint.address.socket_address.address),
      ),
    ).toEqual(['10.0.0.1', '10.0.0.3']);
    const v2 = get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop|v2');
    expect(v2.endpoints).toHaveLength(1);
    expect(v2.endpoints[0].locality).toEqual({ region: REGION, zone: 'b' });
    const whole = get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop');
    expect(whole.endpoints.map((l: Loose) => [l.locality, l.priority])).toEqual([
      [{ region: REGION, zone: 'a' }, 0],
      [{ region: REGION, zone: 'b' }, 0],
      [{ region: 'us-east' }, 1],
    ]);
  });

  test('remote regions follow the failover order, then the rest by name, at dense priorities; unhealthy regions are left out', () => {
    const gw = (n: number) => ({ address: `192.0.2.${n}`, port: 15443 });
    const out = translate([
      service('payments'),
      paymentsEndpoints,
      route('payments', {
        rules: [{ backends: [{ weight: 1 }] }],
        failover: ['us-west', 'eu-west', 'ap-south'],
      }),
      remoteEndpoints(NS, 'payments', 'ap-south', gw(1), 2),
      remoteEndpoints(NS, 'payments', 'us-west', gw(2), 7),
      remoteEndpoints(NS, 'payments', 'af-north', gw(3), 1),
      remoteEndpoints(NS, 'payments', 'sa-east', gw(4), 0),
      remoteEndpoints(NS, 'payments', 'ca-central', gw(5), 5),
    ]);
    const cla = get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop');
    expect(cla.endpoints.slice(2)).toEqual([
      remoteLocality('us-west', '192.0.2.2', 7, 1),
      remoteLocality('ap-south', '192.0.2.1', 2, 2),
      remoteLocality('af-north', '192.0.2.3', 1, 3),
      remoteLocality('ca-central', '192.0.2.5', 5, 4),
    ]);
  });

  test('without local endpoints the first remote region takes priority 0', () => {
    const out = translate([
      service('payments'),
      remoteEndpoints(NS, 'payments', 'us-east', { address: '192.0.2.10', port: 15443 }, 3),
    ]);
    expect(get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop').endpoints).toEqual([
      remoteLocality('us-east', '192.0.2.10', 3, 0),
    ]);
  });

  test('unhealthy endpoints are marked UNHEALTHY, drained ones left out, hostnames left out with a warning', () => {
    const out = translate([
      service('payments'),
      endpoints('payments', [
        { address: '10.0.0.1', port: 9091, healthy: false },
        { address: '10.0.0.2', port: 9091, weight: 0 },
        { address: 'pod-3.example.internal', port: 9091 },
        { address: '10.0.0.4', port: 9091 },
      ]),
      remoteEndpoints(NS, 'payments', 'us-east', { address: 'gw.us-east.example.net', port: 15443 }, 3),
    ]);
    const cla = get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop');
    expect(cla.endpoints).toEqual([
      {
        locality: { region: REGION },
        lb_endpoints: [
          { ...lbEndpoint('10.0.0.1', 9091, 1), health_status: 'UNHEALTHY' },
          lbEndpoint('10.0.0.4', 9091, 1),
        ],
        load_balancing_weight: { value: 2 },
        priority: 0,
      },
    ]);
    expect(out.warnings).toEqual([
      'payments.shop: endpoint pod-3.example.internal:9091 is not an IP address, which EDS requires; left out',
      'payments.shop: gateway of us-east gw.us-east.example.net:15443 is not an IP address, which EDS requires; left out',
    ]);
  });

  test.each([
    ['round_robin', { lb_policy: 'ROUND_ROBIN' }],
    ['ring_hash', { lb_policy: 'RING_HASH', ring_hash_lb_config: { hash_function: 'XX_HASH' } }],
  ])('load balancer %s maps to lb_policy', (lb, expected) => {
    const out = translate([service('payments'), policy('payments', { loadBalancer: lb })]);
    const cluster = get(out, TypeUrl.Cluster, 'payments.shop');
    expect(cluster).toMatchObject(expected);
    expect(cluster.load_balancing_policy).toBeUndefined();
  });

  test.each([
    ['least_request', 'least_request.v3.LeastRequest', 'wrr_locality.v3.WrrLocality'],
    ['random', 'random.v3.Random', 'wrr_locality.v3.WrrLocality'],
    ['maglev', 'maglev.v3.Maglev', 'ring_hash.v3.RingHash'],
  ])(
    'load balancer %s is a preference list whose fallback gRPC implements, over an lb_policy every gRPC accepts',
    (lb, first, fallback) => {
      const out = translate([service('payments'), policy('payments', { loadBalancer: lb })]);
      const cluster = get(out, TypeUrl.Cluster, 'payments.shop');
      // A client that reads only the enum NACKs anything but these two (C-core 1.51 says "LB policy is not supported").
      expect(cluster.lb_policy).toBe('ROUND_ROBIN');
      const types = cluster.load_balancing_policy.policies.map(
        (p: Loose) => p.typed_extension_config.typed_config['@type'],
      );
      expect(types).toEqual([
        `type.googleapis.com/envoy.extensions.load_balancing_policies.${first}`,
        `type.googleapis.com/envoy.extensions.load_balancing_policies.${fallback}`,
      ]);
    },
  );

  test('circuit breaker and outlier detection apply to every cluster of the service', () => {
    const out = translate([
      service('payments'),
      policy('payments', {
        subsets: [{ name: 'v1', labels: { version: 'v1' } }],
        circuitBreaker: { maxConnections: 100, maxPendingRequests: 10, maxRequests: 50, maxRetries: 3 },
        outlierDetection: {
          consecutive5xx: 5,
          interval: '10s',
          baseEjectionTime: '30s',
          maxEjectionPercent: 50,
        },
      }),
    ]);
    for (const name of ['payments.shop', 'payments.shop|v1']) {
      const cluster = get(out, TypeUrl.Cluster, name);
      expect(cluster.circuit_breakers).toEqual({
        thresholds: [
          {
            priority: 'DEFAULT',
            max_connections: { value: 100 },
            max_pending_requests: { value: 10 },
            max_requests: { value: 50 },
            max_retries: { value: 3 },
          },
        ],
      });
      expect(cluster.outlier_detection).toEqual({
        enforcing_success_rate: { value: 0 },
        consecutive_5xx: { value: 5 },
        interval: { seconds: 10, nanos: 0 },
        base_ejection_time: { seconds: 30, nanos: 0 },
        max_ejection_percent: { value: 50 },
      });
    }
  });

  test('a backend naming an undefined subset is left out with a warning and the output stays consistent', () => {
    const out = translate([
      service('payments'),
      subsets,
      route('payments', {
        rules: [
          {
            name: 'r',
            backends: [
              { subset: 'v1', weight: 50 },
              { subset: 'v9', weight: 50 },
            ],
          },
        ],
      }),
    ]);
    const [first] = get(out, TypeUrl.RouteConfiguration, 'payments.shop').virtual_hosts[0].routes;
    expect(first.route).toEqual({ cluster: 'payments.shop|v1' });
    expect(out.warnings).toEqual([
      'payments.shop: route r names subset v9, which no TrafficPolicy defines; backend left out',
    ]);
  });

  test('an invalid manifest costs only its own resources, with a warning naming the field', () => {
    const out = translate([
      service('payments'),
      manifest('Service', NS, 'broken', { ports: [{ name: 'grpc', port: 70000, protocol: 'grpc' }] }),
      route('payments', { rules: [] }),
    ]);
    expect(names(out, TypeUrl.Listener)).toEqual(['payments.shop']);
    expect(out.warnings).toHaveLength(2);
    expect(out.warnings[0]).toMatch(/^Service\/shop\/broken: invalid, skipped \(spec\.ports\.0\.port: /);
    expect(out.warnings[1]).toMatch(/^TrafficRoute\/shop\/payments: invalid, skipped \(spec\.rules: /);
  });

  test('tcp-only services get clusters and endpoints but no listener', () => {
    const out = translate([service('db', 'tcp'), endpoints('db', [{ address: '10.0.9.1', port: 5432 }])]);
    expect(names(out, TypeUrl.Listener)).toEqual([]);
    expect(names(out, TypeUrl.RouteConfiguration)).toEqual([]);
    expect(names(out, TypeUrl.Cluster)).toEqual(['db.shop']);
    expect(names(out, TypeUrl.ClusterLoadAssignment)).toEqual(['db.shop']);
  });

  test('endpoints of other regions and resources of unknown services are not served', () => {
    const out = translate([
      service('payments'),
      endpoints('payments', [{ address: '10.9.0.1', port: 9091 }], 'us-east'),
      endpoints('ghost', [{ address: '10.0.0.9', port: 9091 }]),
    ]);
    expect(get(out, TypeUrl.ClusterLoadAssignment, 'payments.shop').endpoints).toEqual([]);
    expect(names(out, TypeUrl.Cluster)).toEqual(['payments.shop']);
    expect(out.warnings).toEqual([
      'ServiceEndpoints ghost-eu-west refers to Service shop/ghost, which is not in the view; skipped',
    ]);
  });

  test('the output depends on the content of the view, not on the order of its keys', () => {
    const manifests = [service('payments'), service('checkout', 'http'), paymentsEndpoints, subsets];
    const a = translateView(regionView(REGION, 1, manifests));
    const b = translateView(regionView(REGION, 1, [...manifests].reverse()));
    expect(JSON.stringify(b)).toEqual(JSON.stringify(a));
  });

  test('listener builders add listeners and route configurations beside the api_listeners', () => {
    const outbound: ListenerBuilder = {
      name: 'outbound',
      build(ctx) {
        const vhosts = ctx.mesh.services.map((s) => ctx.virtualHost(s));
        return {
          listeners: [{ name: '0.0.0.0_9091', resource: { name: '0.0.0.0_9091' } }],
          routeConfigurations: [{ name: '9091', resource: { name: '9091', virtual_hosts: vhosts } }],
        };
      },
    };
    const out = translateView(regionView(REGION, 1, [service('payments')]), {
      listenerBuilders: [apiListeners, outbound],
    });
    expect(names(out, TypeUrl.Listener)).toEqual(['0.0.0.0_9091', 'payments.shop']);
    expect(checkConsistency(out)).toEqual([]);
    expect(get(out, TypeUrl.RouteConfiguration, '9091').virtual_hosts[0].name).toBe('payments.shop');
  });
});

function lbEndpoint(address: string, port: number, weight: number) {
  return {
    endpoint: { address: { socket_address: { address, port_value: port } } },
    health_status: 'HEALTHY',
    load_balancing_weight: { value: weight },
  };
}

function remoteLocality(region: string, address: string, weight: number, priority: number) {
  return {
    locality: { region },
    lb_endpoints: [lbEndpoint(address, 15443, 1)],
    load_balancing_weight: { value: weight },
    priority,
  };
}

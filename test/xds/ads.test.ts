import { silentLogger, type ViewResource } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from 'vitest';
import { createXdsServer, TypeUrl, type XdsEvent, type XdsServer } from '../../edge-agent/src/xds/index.js';
import { manifest, regionView, remoteEndpoints } from '../../edge-agent/src/xds/testing.js';
import { type Backend, startBackend, startXdsClient, type XdsClientProcess } from './support.js';

/**
 * The agent's ADS server against a real, independent proxyless gRPC client: @grpc/grpc-js-xds
 * in a child process resolving `xds:///payments.shop`, calling real gRPC backends.
 */
const REGION = 'eu-west';
const NS = 'shop';

let server: XdsServer;
let client: XdsClientProcess;
const backends: Record<string, Backend> = {};
const events: XdsEvent[] = [];

function view(
  version: number,
  opts: { weights: [number, number]; without?: string[]; ledgerLocalHealthy?: boolean },
) {
  const endpoints = [
    ['v1-a', 'v1'],
    ['v1-b', 'v1'],
    ['v2-a', 'v2'],
  ]
    .filter(([name]) => !opts.without?.includes(name!))
    .map(([name, version]) => ({
      address: '127.0.0.1',
      port: backends[name!]!.port,
      zone: `${REGION}-a`,
      labels: { version: version!, backend: name! },
    }));
  const manifests: ViewResource[] = [
    manifest('Service', NS, 'payments', { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] }),
    manifest('ServiceEndpoints', NS, `payments-${REGION}`, {
      service: 'payments',
      region: REGION,
      endpoints,
    }),
    manifest('TrafficPolicy', NS, 'payments', {
      service: 'payments',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    }),
    manifest('TrafficRoute', NS, 'payments', {
      service: 'payments',
      rules: [
        {
          name: 'split',
          backends: [
            { subset: 'v1', weight: opts.weights[0] },
            { subset: 'v2', weight: opts.weights[1] },
          ],
          timeout: '2s',
        },
      ],
    }),
  ];
  if (opts.ledgerLocalHealthy !== undefined) {
    // A second service whose other region is reached through that region's gateway.
    manifests.push(
      manifest('Service', NS, 'ledger', { ports: [{ name: 'grpc', port: 9092, protocol: 'grpc' }] }),
      manifest('ServiceEndpoints', NS, `ledger-${REGION}`, {
        service: 'ledger',
        region: REGION,
        endpoints: [
          { address: '127.0.0.1', port: backends['ledger-local']!.port, healthy: opts.ledgerLocalHealthy },
        ],
      }),
      manifest('TrafficPolicy', NS, 'ledger', { service: 'ledger', loadBalancer: 'least_request' }),
      remoteEndpoints(
        NS,
        'ledger',
        'us-east',
        { address: '127.0.0.1', port: backends['gw-us-east']!.port },
        3,
      ),
    );
  }
  return regionView(REGION, version, manifests);
}

/** Calls until `done` holds for a batch (config pushes are asynchronous), at most `ms`. */
async function until(done: (counts: Record<string, number>) => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { counts } = await client.calls('xds:///payments.shop', 50);
    if (done(counts)) return;
    if (Date.now() > deadline)
      throw new Error(`config not applied after ${ms} ms: ${JSON.stringify(counts)}`);
  }
}

beforeAll(async () => {
  for (const name of ['v1-a', 'v1-b', 'v2-a', 'ledger-local', 'gw-us-east'])
    backends[name] = await startBackend(name);
  server = await createXdsServer({
    logger: silentLogger(),
    listen: '127.0.0.1:0',
    controlPlane: `fedmesh-agent/${REGION}`,
    onChange: (e) => events.push(e),
  });
  server.setView(view(1, { weights: [80, 20] }));
  client = await startXdsClient({ xdsPort: server.port, nodeId: 'proxyless-1', region: REGION });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  await Promise.all(Object.values(backends).map((b) => b.close()));
});

describe('ADS with a proxyless gRPC client', () => {
  test('xds:///payments.shop splits 80/20 across subsets v1 and v2', async () => {
    onTestFailed(() => console.error(client.stderr()));
    const { counts, errors } = await client.calls('xds:///payments.shop', 2000);
    expect(errors).toEqual({});
    const v1 = (counts['v1-a'] ?? 0) + (counts['v1-b'] ?? 0);
    expect(v1 / 2000).toBeGreaterThan(0.77);
    expect(v1 / 2000).toBeLessThan(0.83);
    // Both v1 endpoints share v1's traffic (round robin within the subset).
    expect(counts['v1-a']).toBeGreaterThan(0);
    expect(counts['v1-b']).toBeGreaterThan(0);

    const [proxy] = server.proxies();
    expect(proxy).toMatchObject({
      id: 'proxyless-1',
      cluster: 'test',
      protocol: 'sotw',
      acked: {
        [TypeUrl.Listener]: '1',
        [TypeUrl.RouteConfiguration]: '1',
        [TypeUrl.Cluster]: '1',
        [TypeUrl.ClusterLoadAssignment]: '1',
      },
      nacks: [],
    });
    expect(proxy!.subscriptions[TypeUrl.Listener]).toEqual(['payments.shop']);
    expect(proxy!.subscriptions[TypeUrl.Cluster]?.sort()).toEqual(['payments.shop|v1', 'payments.shop|v2']);
    expect(events.some((e) => e.type === 'connected' && e.proxy.id === 'proxyless-1')).toBe(true);
  });

  test('a new view with a 0/100 route moves every call to v2 on the same channel', async () => {
    onTestFailed(() => console.error(client.stderr()));
    const result = server.setView(view(2, { weights: [0, 100] }));
    // Only the route changed: clusters and endpoints are not pushed again.
    expect(result.changed).toEqual([TypeUrl.RouteConfiguration]);
    await until((c) => Object.keys(c).length === 1 && c['v2-a'] === 50);
    const { counts, errors } = await client.calls('xds:///payments.shop', 500);
    expect(errors).toEqual({});
    expect(counts).toEqual({ 'v2-a': 500 });
    await expect.poll(() => server.proxies()[0]?.acked[TypeUrl.RouteConfiguration]).toBe('2');
  });

  test('an endpoint removed from the view receives no more calls', async () => {
    onTestFailed(() => console.error(client.stderr()));
    const result = server.setView(view(3, { weights: [100, 0], without: ['v1-b'] }));
    expect(result.changed).toEqual([TypeUrl.ClusterLoadAssignment, TypeUrl.RouteConfiguration]);
    await until((c) => Object.keys(c).length === 1 && c['v1-a'] === 50);
    const before = backends['v1-b']!.calls();
    const { counts, errors } = await client.calls('xds:///payments.shop', 500);
    expect(errors).toEqual({});
    expect(counts).toEqual({ 'v1-a': 500 });
    expect(backends['v1-b']!.calls()).toBe(before);
  });

  test('an unknown service fails at its deadline with a clear error and reaches no backend', async () => {
    onTestFailed(() => console.error(client.stderr()));
    const served = Object.values(backends).reduce((sum, b) => sum + b.calls(), 0);
    const { counts, errors, elapsedMs } = await client.calls('xds:///nope.shop', 3, {
      deadlineMs: 1000,
      concurrency: 3,
    });
    expect(counts).toEqual({});
    for (const message of Object.keys(errors)) {
      expect(message).toMatch(
        /^DEADLINE_EXCEEDED: Deadline exceeded after [\d.]+s,waiting for name resolution$/,
      );
    }
    expect(Object.values(errors).reduce((a, b) => a + b, 0)).toBe(3);
    expect(elapsedMs).toBeLessThan(2000);
    expect(Object.values(backends).reduce((sum, b) => sum + b.calls(), 0)).toBe(served);
    // The agent saw the subscription (and answered it with the full listener set, which lacks it).
    expect(server.proxies()[0]?.subscriptions[TypeUrl.Listener]?.sort()).toEqual([
      'nope.shop',
      'payments.shop',
    ]);
    // The known service on the same client is unaffected.
    expect((await client.calls('xds:///payments.shop', 10)).counts).toEqual({ 'v1-a': 10 });
  });

  test('local endpoints come first; when they turn unhealthy, calls fail over to the remote region gateway', async () => {
    onTestFailed(() => console.error(client.stderr()));
    server.setView(view(4, { weights: [100, 0], without: ['v1-b'], ledgerLocalHealthy: true }));
    const local = await client.calls('xds:///ledger.shop', 200);
    expect(local.errors).toEqual({});
    expect(local.counts).toEqual({ 'ledger-local': 200 });

    server.setView(view(5, { weights: [100, 0], without: ['v1-b'], ledgerLocalHealthy: false }));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { counts } = await client.calls('xds:///ledger.shop', 20);
      if (counts['gw-us-east'] === 20) break;
      expect(Date.now(), JSON.stringify(counts)).toBeLessThan(deadline);
    }
    const remote = await client.calls('xds:///ledger.shop', 200);
    expect(remote.errors).toEqual({});
    expect(remote.counts).toEqual({ 'gw-us-east': 200 });
  });

  test('the proxy has accepted every version and rejected none', async () => {
    await expect.poll(() => server.proxies()[0]?.acked[TypeUrl.ClusterLoadAssignment]).toBe('5');
    const [proxy] = server.proxies();
    expect(proxy?.nacks).toEqual([]);
    expect(events.filter((e) => e.type === 'nacked')).toEqual([]);
  });
});

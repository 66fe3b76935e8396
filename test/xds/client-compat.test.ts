import { silentLogger, type ViewResource } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from 'vitest';
import { createXdsServer, TypeUrl, type XdsServer } from '../../edge-agent/src/xds/index.js';
import { manifest, regionView } from '../../edge-agent/src/xds/testing.js';
import {
  type Backend,
  findGrpcPython,
  startBackend,
  startXdsClient,
  type XdsClientProcess,
} from './support.js';

/**
 * One contract, every proxyless client family at hand: header-matched routes route as the model
 * says and every load balancer's clusters are ACKed, against the agent's real ADS server.
 * - grpc-js-xds, always;
 * - gRPC C-core through Python's grpcio where one is installed (Debian bookworm's
 *   python3-grpcio is C-core 1.51, older than gRFC A63's string_match), twice: as it ships,
 *   reading only the `lb_policy` enum, and with GRPC_EXPERIMENTAL_XDS_CUSTOM_LB_CONFIG=true,
 *   reading `load_balancing_policy` (gRFC A52) as C-core does by default from about 1.55.
 * See docs/xds.md for what each client gets.
 */
const REGION = 'eu-west';
const NS = 'shop';
const TARGET = 'xds:///payments.shop';
const ACK_TIMEOUT_MS = 10_000;

interface ClientKind {
  name: string;
  python?: string;
  env?: Record<string, string>;
  userAgent: RegExp;
  version?: string;
  /** Reads `load_balancing_policy` (where maglev becomes ring hash) rather than the enum alone. */
  readsPreferenceList: boolean;
  /**
   * Whether calls may go through a ring hash cluster. Debian's grpcio 1.51.1 dies of SIGSEGV on
   * one, whatever the configuration around it: a channel in use when the cluster is pushed
   * (before it ACKs), a new one a few seconds into its first call, which never completes. For
   * such a client, this suite checks only that a client of its own, new, accepts them.
   */
  callsThroughRingHash: boolean;
}

const core = findGrpcPython();
const kinds: ClientKind[] = [
  { name: 'grpc-js-xds', userAgent: /^gRPC Node/, readsPreferenceList: true, callsThroughRingHash: true },
];
if (core.found) {
  // An idle C-core channel reads its ADS stream only when the backup poller runs, every 5 s by
  // default: pushes would take that long to be ACKed.
  const poll = { GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS: '100' };
  const coreKind = {
    python: core.python,
    userAgent: /C-core/,
    version: core.version,
    callsThroughRingHash: !core.version.startsWith('1.51.'),
  };
  kinds.push(
    { ...coreKind, name: `gRPC C-core ${core.version} (Python)`, env: poll, readsPreferenceList: false },
    {
      ...coreKind,
      name: `gRPC C-core ${core.version} (Python) reading load_balancing_policy`,
      env: { ...poll, GRPC_EXPERIMENTAL_XDS_CUSTOM_LB_CONFIG: 'true' },
      readsPreferenceList: true,
    },
  );
}

if (!core.found) {
  if (core.explicit) {
    test('FEDMESH_GRPC_PYTHON names a Python with grpcio', () => {
      throw new Error(`FEDMESH_GRPC_PYTHON is set but unusable: ${core.reason}`);
    });
  } else {
    test.skip(`gRPC C-core clients skipped: no Python with grpcio (${core.reason}); install it with 'apt-get install -y python3-grpcio' or set FEDMESH_GRPC_PYTHON`, () => {});
  }
}

function view(version: number, backends: Record<string, Backend>, loadBalancer: string) {
  const endpoints = [
    ['v1-a', 'v1'],
    ['v1-b', 'v1'],
    ['v2-a', 'v2'],
  ].map(([name, subset]) => ({
    address: '127.0.0.1',
    port: backends[name!]!.port,
    zone: `${REGION}-a`,
    labels: { version: subset! },
  }));
  const v2 = [{ subset: 'v2', weight: 100 }];
  const manifests: ViewResource[] = [
    manifest('Service', NS, 'payments', { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] }),
    manifest('ServiceEndpoints', NS, `payments-${REGION}`, {
      service: 'payments',
      region: REGION,
      endpoints,
    }),
    manifest('TrafficPolicy', NS, 'payments', {
      service: 'payments',
      loadBalancer,
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    }),
    manifest('TrafficRoute', NS, 'payments', {
      service: 'payments',
      rules: [
        { name: 'canary', matches: [{ headers: [{ name: 'x-canary', exact: 'yes' }] }], backends: v2 },
        {
          name: 'beta',
          matches: [
            { headers: [{ name: 'x-tenant', prefix: 'beta-' }] },
            { headers: [{ name: 'x-build', regex: '2[0-9]{3}' }] },
          ],
          backends: v2,
        },
        {
          name: 'unpinned',
          matches: [
            {
              headers: [
                { name: 'x-route-test', exact: 'absent' },
                { name: 'x-pinned', present: false },
              ],
            },
          ],
          backends: v2,
        },
        { name: 'rest', backends: [{ subset: 'v1', weight: 100 }] },
      ],
    }),
  ];
  return regionView(REGION, version, manifests);
}

/** Request headers → the subset that must answer. */
const HEADER_CASES: [Record<string, string>, 'v1' | 'v2'][] = [
  [{}, 'v1'],
  [{ 'x-canary': 'yes' }, 'v2'],
  [{ 'x-canary': 'no' }, 'v1'],
  [{ 'x-tenant': 'beta-7' }, 'v2'],
  [{ 'x-tenant': 'prod' }, 'v1'],
  [{ 'x-build': '2024' }, 'v2'],
  // Regexes match the whole value.
  [{ 'x-build': '12024' }, 'v1'],
  [{ 'x-route-test': 'absent' }, 'v2'],
  [{ 'x-route-test': 'absent', 'x-pinned': '1' }, 'v1'],
];

const subsetOf = (backend: string) => backend.slice(0, 2);

describe.each(kinds)('$name', (kind) => {
  let server: XdsServer;
  let client: XdsClientProcess;
  const backends: Record<string, Backend> = {};
  const nodeId = `compat-${kind.name.replace(/\W+/g, '-')}`;
  const proxy = () => server.proxies().find((p) => p.id === nodeId);
  // From the events rather than server.proxies(), which forgets a proxy once its stream is gone.
  const acks = new Set<string>();
  const nacks: string[] = [];
  const start = (id: string) =>
    startXdsClient({
      xdsPort: server.port,
      nodeId: id,
      region: REGION,
      ...(kind.python ? { python: kind.python } : {}),
      ...(kind.env ? { env: kind.env } : {}),
    });
  const acked = (id: string, version: string) =>
    expect
      .poll(() => acks.has(`${id} ${TypeUrl.Cluster} ${version}`), { timeout: ACK_TIMEOUT_MS, interval: 50 })
      .toBe(true);

  beforeAll(async () => {
    for (const name of ['v1-a', 'v1-b', 'v2-a']) backends[name] = await startBackend(name);
    server = await createXdsServer({
      logger: silentLogger(),
      listen: '127.0.0.1:0',
      onChange: (e) => {
        if (e.type === 'acked') acks.add(`${e.proxy.id} ${e.typeUrl} ${e.version}`);
        if (e.type === 'nacked') nacks.push(`${e.proxy.id} ${e.nack.typeUrl}: ${e.nack.reason}`);
      },
    });
    server.setView(view(1, backends, 'round_robin'));
    client = await start(nodeId);
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    await Promise.all(Object.values(backends).map((b) => b.close()));
  });

  test('routes on exact, prefix and regex header matches and on an absent header; every resource ACKed', async () => {
    onTestFailed(() => console.error(client.stderr()));
    for (const [metadata, subset] of HEADER_CASES) {
      const { counts, errors } = await client.calls(TARGET, 10, { metadata, concurrency: 5 });
      expect(errors, JSON.stringify(metadata)).toEqual({});
      expect(
        Object.keys(counts).map(subsetOf),
        `${JSON.stringify(metadata)} answered by ${JSON.stringify(counts)}`,
      ).toEqual(Object.keys(counts).map(() => subset));
    }
    const status = proxy();
    expect(status).toMatchObject({
      acked: {
        [TypeUrl.Listener]: '1',
        [TypeUrl.RouteConfiguration]: '1',
        [TypeUrl.Cluster]: '1',
        [TypeUrl.ClusterLoadAssignment]: '1',
      },
      nacks: [],
    });
    expect(status?.userAgent).toMatch(kind.userAgent);
    // C-core says e.g. "C-core 29.0.0 Python 1.51.1".
    if (kind.version) expect(status?.userAgentVersion).toContain(kind.version);
  });

  test('the clusters of every load balancer are ACKed, and calls go on through them', async () => {
    onTestFailed(() => console.error(client.stderr()));
    // Ring hash last: where it kills the client, nothing after it needs the client.
    const balancers = ['least_request', 'random', 'round_robin', 'maglev', 'ring_hash'];
    for (const [i, lb] of balancers.entries()) {
      const version = String(i + 2);
      const result = server.setView(view(i + 2, backends, lb));
      expect(result.changed).toEqual([TypeUrl.Cluster]);
      const throughRingHash = lb === 'ring_hash' || (lb === 'maglev' && kind.readsPreferenceList);
      if (throughRingHash && !kind.callsThroughRingHash) {
        // A client of its own, whose first call makes it fetch the config; the call never ends.
        const fresh = await start(`${nodeId}-${lb}`);
        void fresh.calls(TARGET, 1, { deadlineMs: 1000 }).catch(() => {});
        await acked(`${nodeId}-${lb}`, version);
        await fresh.kill();
        expect(nacks, lb).toEqual([]);
        continue;
      }
      await acked(nodeId, version);
      expect(nacks, lb).toEqual([]);
      const { counts, errors } = await client.calls(TARGET, 20, { concurrency: 5 });
      expect(errors, lb).toEqual({});
      expect(Object.keys(counts).map(subsetOf), lb).toEqual(Object.keys(counts).map(() => 'v1'));
    }
  });
});

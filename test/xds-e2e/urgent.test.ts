import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, onTestFailed, test } from 'vitest';
import {
  type AgentProcess,
  hubClient,
  removeDir,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';
import { startBackend, startXdsClient, type XdsClientProcess } from '../xds/support.js';
import { type LabelledBackend, NS, putEndpoints, putPaymentsMesh, REGION, TARGET } from './mesh.js';

/**
 * The urgent lane with real parts: an agent process paced to 2 KiB/s (burst 4 KiB) works through a backlog of
 * changes it takes it ~20 s to drain; an endpoint removal written behind that backlog reaches
 * the proxyless gRPC client ahead of it, as a provisional overlay that survives an agent restart
 * and is then confirmed by the ordered chain. What is asserted is order, not time: the client
 * stops calling the removed backend while the agent's verified view is still older than the
 * removal.
 */
const BUDGET = '2KiB/s';

interface Status {
  version: number;
  urgent: { serving: number; received: number; confirmed: number; dropped: number; rejected: number };
}

let nats: NatsServerHandle;
let hub: RunningHub;
let api: ReturnType<typeof hubClient>;
let agent: AgentProcess;
let client: XdsClientProcess;
let stateDir: string;
const backends: Record<'v1-a' | 'v1-b', LabelledBackend> = {} as never;

const status = async (): Promise<Status> =>
  (await (await fetch(`${agent.statusUrl}/status`)).json()) as Status;

/** A Service and its eu-west endpoints with ~1 KB of random labels: a backlog that does not compress. */
async function putFiller(i: number): Promise<void> {
  const name = `filler-${i}`;
  const labels = Object.fromEntries(
    Array.from({ length: 16 }, (_, j) => [`k${j}`, randomBytes(30).toString('hex')]),
  );
  const svc = { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] };
  for (const [kind, resName, spec] of [
    ['Service', name, svc],
    [
      'ServiceEndpoints',
      `${name}-${REGION}`,
      { service: name, region: REGION, endpoints: [{ address: '127.0.0.9', port: 9, labels }] },
    ],
  ] as const) {
    const res = await api.put(kind, NS, resName, {
      apiVersion: API_VERSION,
      kind,
      metadata: { name: resName, namespace: NS },
      spec,
    });
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  }
}

async function callsOnly(names: readonly string[], what: string): Promise<void> {
  await waitFor(
    async () => {
      const { counts, errors } = await client.calls(TARGET, 40, { deadlineMs: 2000 });
      const seen = Object.keys(counts);
      return Object.keys(errors).length === 0 && seen.length > 0 && seen.every((n) => names.includes(n));
    },
    { what, timeoutMs: 30_000 },
  );
}

beforeAll(async () => {
  backends['v1-a'] = { backend: await startBackend('v1-a'), subset: 'v1' };
  backends['v1-b'] = { backend: await startBackend('v1-b'), subset: 'v1' };
  nats = await startNatsServer();
  hub = await startTestHub(nats.url);
  api = hubClient(hub.url);
  await putPaymentsMesh(api, Object.values(backends), [100, 0]);
  // A fast line with a small burst; the first agent caps it lower with --budget.
  const region = { apiVersion: API_VERSION, kind: 'Region', metadata: { name: REGION } };
  const spec = { labels: { geo: 'eu' }, link: { budget: '1MiB/s', burst: '4KiB' } };
  expect((await api.put('Region', '_', REGION, { ...region, spec })).status).toBeLessThan(300);
  stateDir = mkdtempSync(join(tmpdir(), `fedmesh-urgent-${REGION}-`));
  agent = await spawnAgent(nats.url, REGION, stateDir, ['--budget', BUDGET]);
  await waitConverged(hub.url, agent.statusUrl, REGION, 30_000);
  client = await startXdsClient({ xdsPort: agent.xdsPort, nodeId: 'urgent-proxyless', region: REGION });
  await callsOnly(['v1-a', 'v1-b'], 'calls on both v1 backends');
});

afterAll(async () => {
  await client?.close();
  await agent?.stop();
  await hub?.stop();
  await nats?.cleanup();
  await Promise.all(Object.values(backends).map((b) => b.backend.close()));
  if (stateDir) removeDir(stateDir);
});

describe('the urgent lane: hub REST → NATS → a paced agent process → proxyless gRPC client', () => {
  test('an endpoint removal behind a backlog reaches the client first, survives an agent restart, and the chain confirms it', async () => {
    printLogsOnFailure(nats);
    onTestFailed(() => console.error(`--- agent output ---\n${agent?.output().slice(-10_000)}`));
    // ~40 KB in separate deltas: about 20 s of line at the agent's budget.
    for (let i = 0; i < 40; i++) {
      await putFiller(i);
      await hub.engine.flush();
    }
    const removal = await putEndpoints(api, [backends['v1-a']]);

    await callsOnly(['v1-a'], 'calls only on v1-a once the removal is served');
    const early = await status();
    expect(early.version, 'the ordered chain has not delivered the removal yet').toBeLessThan(removal);
    expect(early.urgent.received).toBeGreaterThanOrEqual(1);
    expect(early.urgent.serving).toBeGreaterThanOrEqual(1);

    // Restarted without the cap, on the same state dir and xDS port: the overlay is served from
    // disk until the chain, now drained at once, confirms it.
    const { xdsPort } = agent;
    await agent.stop();
    agent = await spawnAgent(nats.url, REGION, stateDir, [], { xds: xdsPort });
    await waitConverged(hub.url, agent.statusUrl, REGION, 60_000);
    const settled = await waitFor(
      async () => {
        const s = await status();
        return s.urgent.serving === 0 ? s : undefined;
      },
      { what: 'the overlay to be settled by the chain' },
    );
    expect(settled!.urgent.dropped).toBe(0);
    expect(settled!.urgent.confirmed).toBeGreaterThanOrEqual(1);
    await callsOnly(['v1-a'], 'still only v1-a after the chain took over');
  });
});

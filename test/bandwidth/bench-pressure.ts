/**
 * The line under pressure, with real processes: a nats-server, the hub (in process, default
 * debounce), an agent process and a proxyless gRPC client (@grpc/grpc-js-xds, its own process).
 * The region's budget is enforced by the agent's pacing; the line itself is loopback.
 *
 *   npx tsx test/bandwidth/bench-pressure.ts [--budget 32KiB/s] [--burst 64KiB] [--tries 10]
 *       [--backlog 1MiB] [--behind 400]
 *       [--coalesce-after 0s] [--churn 25]
 *
 * 1. Urgent removal: with a backlog of rolling restarts queued for the region (at least
 *    `--backlog`, refilled before every try), an endpoint removal is PUT; the time until the
 *    client's calls no longer reach the removed backend, over `--tries` removals. Meanwhile the
 *    agent's line counter is sampled: the largest 5 s window against budget × 5 s + burst.
 * 2. Far behind: the agent is stopped while `--behind` deltas are published, then started; the
 *    bytes it pulls until it holds the hub's view, against the replay and a fresh snapshot of the
 *    same view (as the hub weighed them in its catch-up answer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { API_VERSION, parseByteRate, parseByteSize, parseDuration, type Resource } from '@fedmesh/shared';
import {
  agentStatus,
  hubClient,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { type Backend, startBackend, startXdsClient } from '../xds/support.js';
import { applyMesh } from './support/fleet.js';
import { generateMesh, rollEndpoints } from './support/mesh.js';
import { largestFiveSecondWindow, msUntilGone, quantile } from './support/pressure.js';

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: '32KiB/s' },
    burst: { type: 'string', default: '64KiB' },
    tries: { type: 'string', default: '10' },
    backlog: { type: 'string', default: '1MiB' },
    'coalesce-after': { type: 'string', default: '0s' },
    churn: { type: 'string', default: '25' },
    behind: { type: 'string', default: '400' },
  },
});
const BUDGET = parseByteRate(values.budget!);
const BURST = parseByteSize(values.burst!);
const TRIES = Number(values.tries);
const BACKLOG = parseByteSize(values.backlog!);
// The hub's --coalesce-after. Off (0s) by default here: with coalescing the stream never holds a
// multi-MB backlog, which is the case the urgent lane is measured against. With it on, each try
// writes --churn batches of 20 rolling restarts once the hub holds the region.
const COALESCE_AFTER = values['coalesce-after']!;
const COALESCING = parseDuration(COALESCE_AFTER) > 0;
const CHURN = Number(values.churn);
const BEHIND = Number(values.behind);
const REGION = 'eu-west';
const NS = 'shop';
const TARGET = 'xds:///payments.shop';

const nats = await startNatsServer();
const hub = await startTestHub(nats.url, { debounce: '100ms', maxWait: '1s', coalesceAfter: COALESCE_AFTER });
const api = hubClient(hub.url);
const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-bench-pressure-'));
const backends: Backend[] = [];
const put = async (r: Resource) => {
  const res = await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
  if (res.status >= 300)
    throw new Error(`PUT ${r.kind}/${r.metadata.name}: ${res.status} ${JSON.stringify(res.body)}`);
  return Number(res.headers.get('etag')?.replaceAll('"', ''));
};
const payments = (live: Backend[]): Resource =>
  ({
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: `payments-${REGION}`, namespace: NS },
    spec: {
      service: 'payments',
      region: REGION,
      endpoints: live.map((b) => ({
        address: '127.0.0.1',
        port: b.port,
        zone: `${REGION}-a`,
        labels: { backend: b.name },
      })),
    },
  }) as Resource;
let agent: Awaited<ReturnType<typeof spawnAgent>> | undefined;
try {
  // A mesh whose region views are a few MB, so rolling restarts make a real backlog.
  const mesh = generateMesh({ services: 400, endpointsPerService: 150, seed: 11 });
  await applyMesh(hub.url, mesh);
  for (let i = 0; i <= TRIES; i++) backends.push(await startBackend(`b${i}`));
  await put({
    apiVersion: API_VERSION,
    kind: 'Service',
    metadata: { name: 'payments', namespace: NS },
    spec: { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] },
  } as Resource);
  let live = [...backends];
  await put(payments(live));
  // The first snapshot on a fast line; then the region's budget drops to the one under test.
  agent = await spawnAgent(nats.url, REGION, stateDir);
  await waitConverged(hub.url, agent.statusUrl, REGION, 180_000);
  const regionRes = mesh.find((r) => r.kind === 'Region' && r.metadata.name === REGION)!;
  await put({
    ...regionRes,
    spec: { ...(regionRes.spec as object), link: { budget: values.budget, burst: values.burst } },
  } as Resource);
  await waitConverged(hub.url, agent.statusUrl, REGION, 60_000);
  const client = await startXdsClient({ xdsPort: agent.xdsPort, nodeId: 'pressure', region: REGION });
  await waitFor(async () => Object.keys((await client.calls(TARGET, 40)).counts).length === live.length, {
    what: 'the client to reach every backend',
    timeoutMs: 60_000,
  });

  // Samples of the agent's line counter, for the 5 s windows.
  const samples: { t: number; bytes: number }[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await agentStatus(agent!.statusUrl).catch(() => undefined);
      if (s)
        samples.push({
          t: performance.now(),
          bytes: (s as unknown as { sync: { lineBytesReceived: number } }).sync.lineBytesReceived,
        });
      await new Promise((r) => setTimeout(r, 250));
    }
  })();

  const endpoints = mesh.filter((r) => r.kind === 'ServiceEndpoints' && r.spec.region === REGION);
  let round = 0;
  const fillBacklog = async () => {
    for (let batches = 0; ; batches++) {
      const line = (await api.region(REGION)).body.line as {
        queuedBytes: number;
        holdingSince: string | null;
      };
      if (line.queuedBytes >= BACKLOG || (COALESCING && line.holdingSince && batches >= CHURN))
        return line.queuedBytes;
      const batch: Resource[] = [];
      for (let i = 0; i < 20; i++, round++)
        batch.push(rollEndpoints(endpoints[round % endpoints.length]!, 200_000 + round));
      await applyMesh(hub.url, batch);
      await hub.engine.flush();
    }
  };

  const times: number[] = [];
  const queuedAt: number[] = [];
  for (let i = 0; i < TRIES; i++) {
    queuedAt.push(await fillBacklog());
    await new Promise((r) => setTimeout(r, 1200)); // a status report that shows the line behind
    const removed = live[0]!;
    live = live.slice(1);
    const t0 = performance.now();
    await put(payments(live));
    const ms = await msUntilGone(client, TARGET, removed.name, t0);
    times.push(ms);
    console.log(
      `try ${i + 1}: removal of ${removed.name} followed after ${ms.toFixed(0)} ms, ${(queuedAt[i]! / 1024).toFixed(0)} KiB queued`,
    );
  }
  sampling = false;
  await sampler;
  const worst = largestFiveSecondWindow(samples);
  const allowed = BUDGET * 5 + BURST;
  const s = (await agentStatus(agent.statusUrl)) as unknown as {
    urgent: Record<string, number>;
    sync: { lineBytesReceived: number };
  };
  console.log(
    `urgent removal at ${values.budget} (burst ${values.burst}) behind >= ${(BACKLOG / 1024).toFixed(0)} KiB: ` +
      `p50 ${quantile(times, 0.5).toFixed(0)} ms, p99 ${quantile(times, 0.99).toFixed(0)} ms, max ${Math.max(...times).toFixed(0)} ms over ${TRIES}; ` +
      `largest 5 s window ${(worst / 1024).toFixed(1)} KiB against budget x 5 s + burst = ${(allowed / 1024).toFixed(1)} KiB (${((worst / allowed) * 100).toFixed(0)}%); ` +
      `agent urgent ${JSON.stringify(s.urgent)}`,
  );
  const summary = (await api.region(REGION)).body as { bytesSent: number; line: { coalescedRounds: number } };
  console.log(
    `hub --coalesce-after ${COALESCE_AFTER}: ${summary.bytesSent} B published for ${REGION}, ` +
      `${summary.line.coalescedRounds} publication rounds coalesced, agent line ${s.sync.lineBytesReceived} B`,
  );
  await client.close();
  if (process.env.BENCH_DEBUG) {
    console.log(
      agent
        .output()
        .split('\n')
        .filter((l) => /urgent/.test(l))
        .join('\n'),
    );
  }

  // 2. Far behind: away while BEHIND deltas are published.
  await waitConverged(hub.url, agent.statusUrl, REGION, 600_000);
  await agent.stop();
  const sentBefore = (await api.region(REGION)).body.bytesSent as number;
  for (let i = 0; i < BEHIND; i++, round++) {
    await applyMesh(hub.url, [rollEndpoints(endpoints[round % 40]!, 300_000 + round)]);
    await hub.engine.flush();
  }
  const replay = ((await api.region(REGION)).body.bytesSent as number) - sentBefore;
  agent = await spawnAgent(nats.url, REGION, stateDir);
  await waitConverged(hub.url, agent.statusUrl, REGION, 600_000);
  const st = (await agentStatus(agent.statusUrl)) as unknown as {
    sync: { bytesReceived: number; messagesReceived: number; catchUps: number };
  };
  const plan = agent
    .output()
    .split('\n')
    .map((l) => {
      try {
        return JSON.parse(l) as { msg?: string; plan?: string; bytes?: Record<string, number> };
      } catch {
        return undefined;
      }
    })
    .find((l) => l?.msg === 'catch-up plan' && l.plan !== 'snapshot');
  const snapshot = plan?.bytes?.snapshot;
  console.log(
    `${BEHIND} deltas behind: pulled ${st.sync.bytesReceived} B in ${st.sync.messagesReceived} messages (plan ${plan?.plan ?? 'none'}); ` +
      `replay ${replay} B, fresh snapshot ${snapshot ?? '?'} B: ` +
      `${snapshot ? (st.sync.bytesReceived / snapshot).toFixed(3) : '?'}x a snapshot, ${(st.sync.bytesReceived / replay).toFixed(3)}x the replay`,
  );
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await agent?.stop();
  await hub.stop();
  await nats.cleanup();
  await Promise.all(backends.map((b) => b.close()));
  rmSync(stateDir, { recursive: true, force: true });
}

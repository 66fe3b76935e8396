/**
 * How long a 5 MB backlog of deltas takes to reach an agent, against the physical limit of its
 * budget (bytes ÷ budget). The agent is away while rolling restarts pile up on the stream, then
 * comes back; the line is loopback, so the budget is the only limit.
 *
 *   npx tsx test/bandwidth/bench-backlog.ts [--budget 512KiB/s] [--backlog 5MiB]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseByteRate, parseByteSize, type Resource } from '@fedmesh/shared';
import { hubClient, spawnAgent, startTestHub, waitConverged } from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { applyMesh } from './support/fleet.js';
import { generateMesh, rollEndpoints } from './support/mesh.js';

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: '512KiB/s' },
    backlog: { type: 'string', default: '5MiB' },
  },
});
const BUDGET = parseByteRate(values.budget!);
const BACKLOG = parseByteSize(values.backlog!);
const REGION = 'eu-west';

const nats = await startNatsServer();
const hub = await startTestHub(nats.url);
const api = hubClient(hub.url);
const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-bench-backlog-'));
try {
  const mesh = generateMesh({
    services: 400,
    endpointsPerService: 150,
    link: { budget: values.budget!, burst: '1MiB' },
    seed: 11,
  });
  await applyMesh(hub.url, mesh);
  let agent = await spawnAgent(nats.url, REGION, stateDir);
  await waitConverged(hub.url, agent.statusUrl, REGION, 120_000);
  await new Promise((r) => setTimeout(r, 1500)); // its last status report carries its position
  await agent.stop();

  // Rolling restarts while the agent is away, until the stream holds the backlog for it.
  const endpoints = mesh.filter((r) => r.kind === 'ServiceEndpoints' && r.spec.region === REGION);
  let queued = 0;
  let deltas = 0;
  for (let round = 0; queued < BACKLOG; round++) {
    const batch: Resource[] = [];
    for (let i = 0; i < 20; i++) {
      const r = endpoints[(round * 20 + i) % endpoints.length]!;
      batch.push(rollEndpoints(r, 100_000 + round * 20 + i));
    }
    await applyMesh(hub.url, batch);
    await hub.engine.flush();
    deltas++;
    queued = (await api.region(REGION)).body.line.queuedBytes;
  }

  const started = performance.now();
  agent = await spawnAgent(nats.url, REGION, stateDir);
  let firstByte = 0;
  const watch = setInterval(async () => {
    const s = (await (await fetch(`${agent.statusUrl}/status`)).json().catch(() => undefined)) as
      | { sync: { lineBytesReceived: number } }
      | undefined;
    if (!firstByte && (s?.sync.lineBytesReceived ?? 0) > 64 * 1024) firstByte = performance.now();
  }, 50);
  await waitConverged(hub.url, agent.statusUrl, REGION, 300_000);
  const done = performance.now();
  clearInterval(watch);
  const status = (await (await fetch(`${agent.statusUrl}/status`)).json()) as {
    sync: { lineBytesReceived: number; bytesReceived: number; messagesReceived: number };
    line: { budget: { bytesPerSecond: number; burstBytes: number } };
  };
  if (process.env.BENCH_AGENT_LOG) console.error(agent.output());
  await agent.stop();

  const burst = status.line.budget.burstBytes;
  const limit = Math.max(0, queued - burst) / BUDGET;
  const fromStart = (done - started) / 1000;
  const fromFirst = (done - firstByte) / 1000;
  console.log(
    [
      `budget ${BUDGET} B/s, burst ${burst} B; backlog of ${deltas} deltas, ${queued} bytes queued at the hub`,
      `agent received ${status.sync.bytesReceived} bytes in ${status.sync.messagesReceived} sync messages,` +
        ` ${status.sync.lineBytesReceived} line bytes (protocol and TCP/IP included)`,
      `physical limit: (queued − burst) ÷ budget = ${limit.toFixed(1)} s;` +
        ` line bytes ÷ budget = ${(status.sync.lineBytesReceived / BUDGET).toFixed(1)} s`,
      `in sync ${fromStart.toFixed(1)} s after the agent started, ${fromFirst.toFixed(1)} s after its first 64 KiB` +
        ` (${((fromFirst / limit) * 100).toFixed(0)}% of the limit)`,
    ].join('\n'),
  );
} finally {
  await hub.stop();
  await nats.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
}

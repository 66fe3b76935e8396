/**
 * What an idle region costs on its downlink: the bytes nats-server sends to an agent's connection
 * (`/connz` out_bytes: pull expiries, idle heartbeats, PINGs) while nothing changes.
 *
 *   npx tsx test/bench/idle-line.ts [--seconds 360]
 *
 * Real parts: a nats-server, the hub in process, the agent through its bin (its own process, as
 * in production). After the agent holds the sample mesh's view, the counter is read at the start
 * and end of the quiet window. The goal (DESIGN.md): at most 5 B/s.
 */
import { mkdtempSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { sampleMesh } from '@fedmesh/shared';
import { connOutBytes } from '../bandwidth/support/fleet.js';
import { hubClient, removeDir, spawnAgent, startTestHub, waitConverged } from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '360' } } });
const seconds = Number(values.seconds);
const REGION = 'eu-west';

const nats = await startNatsServer();
const hub = await startTestHub(nats.url);
const api = hubClient(hub.url);
for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-idle-'));
const agent = await spawnAgent(nats.url, REGION, stateDir, ['--heartbeat', '10s']);
try {
  await waitConverged(hub.url, agent.statusUrl, REGION, 60_000);
  await sleep(5_000); // the agent's first status reports and its first pull settle
  const name = `fedmesh-agent-${REGION}`;
  const from = await connOutBytes(nats.monitorUrl, name);
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const to = await connOutBytes(nats.monitorUrl, name);
  const secs = (Date.now() - t0) / 1000;
  const rate = (to - from) / secs;
  console.log(
    `idle line: ${to - from} B to the agent in ${secs.toFixed(0)} s = ${rate.toFixed(2)} B/s ` +
      `(goal <= 5 B/s); load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
} finally {
  await agent.stop();
  removeDir(stateDir);
  await hub.stop();
  await nats.cleanup();
}

/**
 * The line under a steady stream of changes: what each (region, change that altered its view)
 * costs on the agents' lines when changes arrive at a rate instead of one at a time.
 *
 *   npx tsx test/bench/paced-line.ts [--rates 2,10,50,200] [--changes 300] [--services 300] [--regions 5]
 *
 * The live mode of `npm run bench` sends a change and waits for every region to hold it before
 * the next, so every change is a message of its own and its framing (envelope, JetStream headers,
 * the HMSG line with its ack subject) is paid whole. A hub merges what arrives within its debounce
 * window into one delta per region; this measures, with a real nats-server, the hub in process
 * with its default debounce and max wait, and one agent process per region, how much of the
 * framing that amortizes at each rate. Changes are sent on a schedule (never two writes of one key
 * at once, so that the driver's own scoper, fed in sending order, knows each region's final
 * hash), then every agent must hold that hash.
 *
 * Per rate, from the agents' counters (`/status` sync: lineBytesReceived, payloadBytes,
 * messagesReceived) over the phase: line bytes, payload and framing per region-change, and
 * region-changes per message. The field-level lower bound is the model's (`lowerBoundBytes`):
 * each change's minimal [path, value] pairs for each region it reaches, alone, brotli q11, no
 * framing. Merging is a saving the hub really makes, so the ratio is line bytes ÷ the sum of the
 * per-change bounds.
 */
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { type AgentProcess, hubClient, removeDir, spawnAgent, startTestHub } from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { lowerBoundBytes } from './line.js';
import { agentStatus, send, waitHash } from './live.js';
import { DEFAULT_ENCODE, fedmeshStep, loadScoper } from './pipeline.js';
import { createWorkload } from './workload.js';

const { values } = parseArgs({
  options: {
    rates: { type: 'string', default: '2,10,50,200' },
    changes: { type: 'string', default: '300' },
    services: { type: 'string', default: '300' },
    regions: { type: 'string', default: '5' },
    seed: { type: 'string', default: '11' },
  },
});
const rates = values.rates.split(',').map(Number);
const changesPerRate = Number(values.changes);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const w = createWorkload({
  services: Number(values.services),
  regions: Number(values.regions),
  seed: Number(values.seed),
});
const local = loadScoper(w.initial);
const versions = new Map<string, number>();
const nats = await startNatsServer();
const hub = await startTestHub(nats.url, { debounce: '100ms', maxWait: '1s' }); // the hub's defaults
const api = hubClient(hub.url);
const agents = new Map<string, AgentProcess>();
const dirs: string[] = [];
console.log(
  `paced line: ${w.initial.length} resources, ${w.regionNames.length} regions, load average ${load()}`,
);
try {
  for (let i = 0; i < w.initial.length; i += 250) {
    const res = await api.call('POST', '/v1/apply', w.initial.slice(i, i + 250));
    if (res.status !== 200) throw new Error(`apply failed (${res.status})`);
  }
  await Promise.all(
    w.regionNames.map(async (region) => {
      const dir = await mkdtemp(join(tmpdir(), `fedmesh-paced-${region}-`));
      dirs.push(dir);
      agents.set(region, await spawnAgent(nats.url, region, dir, ['--log-level', 'warn']));
    }),
  );
  const allHold = () =>
    Promise.all(w.regionNames.map((r) => waitHash(agents.get(r)!, local.hash(r)!, 120_000, 50)));
  await allHold();

  let revision = w.initial.length;
  const rows: string[] = [];
  for (const rate of rates) {
    const before = await counters();
    let regionChanges = 0;
    let bound = 0;
    const inFlight = new Map<string, Promise<void>>();
    const pending = new Set<Promise<void>>();
    const t0 = performance.now();
    for (let i = 0; i < changesPerRate; i++) {
      const c = w.nextChange();
      const step = await fedmeshStep(local, c.writes, versions, ++revision, DEFAULT_ENCODE);
      for (const r of step.regions.values()) {
        regionChanges++;
        bound += await lowerBoundBytes(r.changes);
      }
      const due = t0 + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      // Writes of one key go in order: the driver's scoper took them in this order.
      const keys = c.writes.map((x) => x.key);
      const prior = Promise.all(keys.map((k) => inFlight.get(k)));
      const p: Promise<void> = prior.then(() => send(api, c.writes));
      for (const k of keys) inFlight.set(k, p);
      pending.add(p);
      p.finally(() => pending.delete(p)).catch(() => undefined);
    }
    await Promise.all(pending);
    const sentS = (performance.now() - t0) / 1000;
    await allHold();
    const after = await counters();
    const d = (f: keyof Counters) => after[f] - before[f];
    const framing = d('line') - d('payload');
    rows.push(
      `| ${rate}/s (sent in ${sentS.toFixed(1)} s) | ${regionChanges} | ${d('messages')} | ${(regionChanges / Math.max(1, d('messages'))).toFixed(2)} | ` +
        `${(d('line') / regionChanges).toFixed(0)} B | ${(d('payload') / regionChanges).toFixed(0)} B | **${(framing / regionChanges).toFixed(0)} B** | ` +
        `${(bound / regionChanges).toFixed(0)} B | **${(d('line') / bound).toFixed(2)}** | ${load()} |`,
    );
    console.log(rows.at(-1));
  }
  console.log(
    '\n| rate | region-changes | messages | region-changes per message | line per region-change | payload | framing | lower bound | line ÷ bound | load average after |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows) console.log(r);
} finally {
  await Promise.all([...agents.values()].map((a) => a.stop().catch(() => undefined)));
  for (const d of dirs) removeDir(d);
  await hub.stop();
  await nats.cleanup();
}

interface Counters {
  line: number;
  payload: number;
  messages: number;
}

async function counters(): Promise<Counters> {
  const out: Counters = { line: 0, payload: 0, messages: 0 };
  for (const a of agents.values()) {
    const s = await agentStatus(a);
    out.line += s.sync.lineBytesReceived;
    out.payload += s.sync.payloadBytes;
    out.messages += s.sync.messagesReceived;
  }
  return out;
}
process.exit(0);

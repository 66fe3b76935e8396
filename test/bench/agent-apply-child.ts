/**
 * Child of agent-apply.ts: decodes and applies a snapshot and a run of deltas as the edge agent's
 * sync client does (decompress with the size cap, JSON.parse, `applyPayload` with its hash check
 * and the client's long-lived `mirror` cache of the held view), and prints timings and memory as
 * JSON on stdout. Run with --expose-gc so memory is read after a full collection rather than
 * whenever V8 last felt like collecting.
 */
import { readFileSync } from 'node:fs';
import { applyPayload, emptyView, mirror } from '@fedmesh/edge-agent';
import { decodeBody, decompress, type RegionView, type ViewState } from '@fedmesh/shared';
import type { ChildInput, ChildReport } from './agent-apply.js';
import { summarize } from './stats.js';

const MAX_PAYLOAD = 256 * 1024 * 1024; // the agent's default --max-payload

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const fullGc = () => {
  gc();
  gc();
};

const input = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as ChildInput;
// Each message body starts with its envelope; the payload is what follows, as the agent reads it.
const decodeMsgs = (msgs: ChildInput['snapshot']) => ({
  meta: msgs[0]!.meta,
  body: Buffer.concat(msgs.map((m) => decodeBody(m.meta.region, Buffer.from(m.data, 'base64')).payload)),
});
const snapshot = decodeMsgs(input.snapshot);
const deltas = input.deltas.map(decodeMsgs);

interface Timed {
  decodeMs: number[];
  parseMs: number[];
  applyMs: number[];
  totalMs: number[];
}
const timed = (): Timed => ({ decodeMs: [], parseMs: [], applyMs: [], totalMs: [] });

async function applyOne(
  held: RegionView,
  msg: ReturnType<typeof decodeMsgs>,
  into: Timed,
  cache: ViewState,
): Promise<RegionView> {
  const t0 = performance.now();
  const raw = await decompress(msg.meta.codec, msg.body, MAX_PAYLOAD);
  const t1 = performance.now();
  const payload = JSON.parse(new TextDecoder().decode(raw)) as unknown;
  const t2 = performance.now();
  const outcome = applyPayload(held, msg.meta, payload, cache);
  const t3 = performance.now();
  if (outcome.kind !== 'applied') throw new Error(`not applied: ${outcome.reason}`);
  into.decodeMs.push(t1 - t0);
  into.parseMs.push(t2 - t1);
  into.applyMs.push(t3 - t2);
  into.totalMs.push(t3 - t0);
  return outcome.view;
}

// Warm the code paths on a small payload-free view so the first snapshot is not also JIT time.
applyPayload(
  emptyView(input.region),
  { ...snapshot.meta, toHash: emptyView('x').hash, toVersion: 1 },
  { resources: {} },
);
fullGc();
const before = process.memoryUsage();

// Like the client: one mirror of the held view, created before the first payload and kept.
const snap = timed();
let cache = mirror({});
let view = await applyOne(emptyView(input.region), snapshot, snap, cache);
fullGc();
const withView = process.memoryUsage();
for (let i = 1; i < input.snapshotRepeats; i++) {
  cache = mirror({});
  view = await applyOne(emptyView(input.region), snapshot, snap, cache);
}

const delta = timed();
for (const d of deltas) view = await applyOne(view, d, delta, cache);
fullGc();
const after = process.memoryUsage();

const summaries = (t: Timed) => ({
  decodeMs: summarize(t.decodeMs),
  parseMs: summarize(t.parseMs),
  applyMs: summarize(t.applyMs),
  totalMs: summarize(t.totalMs),
});
const report: ChildReport = {
  snapshot: summaries(snap),
  delta: summaries(delta),
  memory: {
    baselineRss: before.rss,
    withViewRss: withView.rss,
    viewHeapBytes: withView.heapUsed - before.heapUsed,
    viewExternalBytes: withView.external - before.external,
    peakRss: process.resourceUsage().maxRSS * 1024,
    afterDeltasRss: after.rss,
  },
};
if (Object.keys(view.resources).length === 0) throw new Error('empty view');
process.stdout.write(JSON.stringify(report));

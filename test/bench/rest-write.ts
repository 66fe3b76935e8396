/**
 * The hub's whole write path, measured from outside: REST parsing and validation, reference
 * checks, the KV write, the audit record and publication, as the hub process's own CPU time
 * (utime + stime from /proc/<pid>/stat, every thread), with the same process's idle CPU over an
 * equal quiet spell subtracted.
 *
 *   npx tsx test/bench/rest-write.ts [--sizes 1000,50000] [--writes 300] [--regions 50]
 *       [--rates 250,500,1000,2000 --seconds 20] [--batch 50]
 *
 * For each mesh size, in a fresh nats-server and hub process: the bulk apply of the whole mesh
 * (POST /v1/apply in 2 MB batches: wall time and hub CPU), then `--writes` single PUTs of the
 * workload's churn (endpoint flaps, scaling, restarts, rollouts), one at a time, and the hub CPU
 * per write. The issue's goal: CPU per write at ~50k ÷ at ~1k resources ≤ 2.
 *
 * With `--rates`, at the largest size only: the workload's endpoint changes (flaps, scaling,
 * restarts) and new services PUT at each target rate for `--seconds`, up to 64 in flight, and from the hub's
 * `fedmesh_hub_change_publish_seconds` histogram how many of them were on the stream for every
 * region they reached within max-wait + 1 s (2 s with the default flags). The highest rate
 * the hub sustains is the highest one at which the REST API kept the pace and all of them did.
 * With `--batch N` the changes go N to a request (POST /v1/apply, up to `--inflight` requests at once, 16 by default),
 * as a client that reports endpoints in bulk would send them.
 * Hub RSS (VmRSS, and VmHWM for the peak) is read after the bulk apply and at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { Resource } from '@fedmesh/shared';
import { applyMesh } from '../bandwidth/support/fleet.js';
import { freePort, waitFor } from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { createWorkload } from './workload.js';

const ROOT = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,50000' },
    writes: { type: 'string', default: '300' },
    regions: { type: 'string', default: '50' },
    rates: { type: 'string', default: '' },
    seconds: { type: 'string', default: '20' },
    batch: { type: 'string', default: '1' },
    inflight: { type: 'string', default: '16' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const writes = Number(values.writes);
const regions = Number(values.regions);
const rates = values.rates ? values.rates.split(',').map(Number) : [];
const rateSeconds = Number(values.seconds);
/** Changes per request in the sustained runs: 1 is a PUT each, more is one POST /v1/apply. */
const batchSize = Math.max(1, Number(values.batch));
/** POST /v1/apply requests in flight at once in the batched runs. */
const inflight = Math.max(1, Number(values.inflight));
/** The hub's default --max-wait plus the second the issue allows for the rest. */
const CONVERGED_WITHIN_S = 2;
/** Resources per service in the workload's default mix (measured: 34,159 for 10,000 services). */
const RESOURCES_PER_SERVICE = 3.41;
const TICK = 100; // USER_HZ
/** The highest config revision any write to the current hub answered with. */
let highestRevision = 0;

function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

/** Count and cumulative buckets of the hub's change → published histogram. */
async function publishHistogram(url: string): Promise<{ count: number; le: Map<string, number> }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const le = new Map<string, number>();
  let count = 0;
  for (const line of text.split('\n')) {
    const b = /^fedmesh_hub_change_publish_seconds_bucket\{le="([^"]+)"\} (\d+)/.exec(line);
    if (b) le.set(b[1]!, Number(b[2]));
    const c = /^fedmesh_hub_change_publish_seconds_count (\d+)/.exec(line);
    if (c) count = Number(c[1]);
  }
  return { count, le };
}

/** Sum and count of every series of a histogram, by its labels as printed (`op="get"`). */
async function histogramSums(
  url: string,
  name: string,
): Promise<Map<string, { sum: number; count: number }>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, { sum: number; count: number }>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}_(sum|count)(?:\\{([^}]*)\\})? (\\S+)`).exec(line);
    if (!m) continue;
    const labels = m[2] ?? 'all';
    const e = out.get(labels) ?? { sum: 0, count: 0 };
    e[m[1] as 'sum' | 'count'] = Number(m[3]);
    out.set(labels, e);
  }
  return out;
}

/** Mean of each series between two readings, in ms, with how many fell in between. */
function meansBetween(
  before: Map<string, { sum: number; count: number }>,
  after: Map<string, { sum: number; count: number }>,
): string {
  return [...after]
    .map(([labels, a]) => {
      const b = before.get(labels) ?? { sum: 0, count: 0 };
      const n = a.count - b.count;
      return n > 0 ? `${labels} ${(((a.sum - b.sum) / n) * 1000).toFixed(1)} ms ×${n}` : '';
    })
    .filter(Boolean)
    .join(', ');
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

async function startHub(natsUrl: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      // Node flags for the hub alone, to profile it where it works: FEDMESH_HUB_NODE_ARGS='--cpu-prof --cpu-prof-dir /tmp/prof'.
      ...(process.env.FEDMESH_HUB_NODE_ARGS?.split(' ').filter(Boolean) ?? []),
      resolve(ROOT, 'hub/bin/fedmesh-hub.mjs'),
      ...['--nats', natsUrl, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { what: 'the hub', timeoutMs: 60_000 });
  return { url, proc };
}

const keyPath = (r: Resource) => `/v1/resources/${r.kind}/${r.metadata.namespace ?? '_'}/${r.metadata.name}`;

console.log(
  `REST write path: sizes ${sizes.join(', ')} resources, ${writes} writes each, ${regions} regions`,
);
const results: {
  resources: number;
  applyS: number;
  applyCpuS: number;
  perWriteMs: number;
  idleMs: number;
}[] = [];
for (const target of sizes) {
  const services = Math.max(1, Math.round((target - regions) / RESOURCES_PER_SERVICE));
  const w = createWorkload({ services, regions, seed: 3 });
  const nats = await startNatsServer();
  const hub = await startHub(nats.url);
  highestRevision = 0; // a fresh store
  const pid = hub.proc.pid!;
  try {
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    await applyMesh(hub.url, w.initial);
    const applyS = (performance.now() - t0) / 1000;
    await sleep(1_000); // publication of the initial views
    const applyCpuS = cpuSeconds(pid) - c0;
    const afterApply = memoryMiB(pid);
    console.log(
      `${w.initial.length.toLocaleString('en-US')} resources applied: ${applyS.toFixed(1)} s wall, ${applyCpuS.toFixed(1)} s hub CPU, ` +
        `hub RSS ${afterApply.rss.toFixed(0)} MiB (peak ${afterApply.peak.toFixed(0)})`,
    );

    const changes = Array.from({ length: writes + 20 }, () => w.nextChange().writes)
      .flat()
      .flatMap((x) => (x.resource ? [x.resource] : []));
    // Twenty writes to learn how long the measured ones will take; then the hub's idle cost
    // over that long, to subtract.
    const probeStart = performance.now();
    for (const r of changes.slice(0, 20)) await put(hub.url, r);
    const quietMs = Math.min(
      60_000,
      Math.max(2_000, ((performance.now() - probeStart) / 20) * (changes.length - 20)),
    );
    await sleep(300);
    const idleMark = cpuSeconds(pid);
    await sleep(quietMs);
    const idleRate = (cpuSeconds(pid) - idleMark) / (quietMs / 1000);

    const cw0 = cpuSeconds(pid);
    const tw0 = performance.now();
    let n = 0;
    for (const r of changes.slice(20)) {
      await put(hub.url, r);
      n++;
    }
    await sleep(300); // the last publication
    const wallS = (performance.now() - tw0) / 1000;
    const busy = cpuSeconds(pid) - cw0 - idleRate * wallS;
    const perWriteMs = (busy / n) * 1000;
    results.push({
      resources: w.initial.length,
      applyS,
      applyCpuS,
      perWriteMs,
      idleMs: idleRate * 1000,
    });
    if (target === sizes.at(-1)) {
      for (const rate of rates) await sustain(hub.url, pid, w, rate, natsPid(nats.storeDir));
      const end = memoryMiB(pid);
      console.log(`hub RSS at the end ${end.rss.toFixed(0)} MiB (peak ${end.peak.toFixed(0)})`);
    }
    console.log(
      `${w.initial.length.toLocaleString('en-US')} resources: bulk apply ${applyS.toFixed(1)} s wall, ${applyCpuS.toFixed(1)} s hub CPU; ` +
        `${n} writes: ${perWriteMs.toFixed(2)} ms hub CPU per write (idle ${(idleRate * 1000).toFixed(1)} ms/s subtracted), ` +
        `${(n / wallS).toFixed(0)} writes/s one at a time`,
    );
  } finally {
    hub.proc.kill('SIGTERM');
    await new Promise((r) => hub.proc.once('exit', r));
    await nats.cleanup();
  }
}
const first = results[0]!;
const last = results.at(-1)!;
console.log(
  `hub CPU per REST write, ${last.resources.toLocaleString('en-US')} ÷ ${first.resources.toLocaleString('en-US')} resources: ` +
    `${(last.perWriteMs / first.perWriteMs).toFixed(2)}× (goal <= 2); ${first.perWriteMs.toFixed(2)} ms at ${first.resources.toLocaleString('en-US')}; ` +
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
);

/** Endpoint changes at `rate` per second for `rateSeconds`, and how fast the hub published them. */
/** The pid of the nats-server serving from `storeDir` (its command line names the config beside it). */
function natsPid(storeDir: string): number | undefined {
  const dir = dirname(storeDir);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.includes('nats-server') && cmd.includes(dir)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

async function sustain(
  url: string,
  pid: number,
  w: ReturnType<typeof createWorkload>,
  rate: number,
  natsServerPid: number | undefined,
) {
  const total = Math.round(rate * rateSeconds); // writes, roughly one per change
  // Endpoint changes (flaps, scaling, restarts) and the new services they may be of, whose writes
  // go one after another; changes overlap. Rollouts and policy edits, which may name a policy
  // another change in flight creates, are left out.
  const changes: Resource[][] = [];
  let endpointChanges = 0;
  for (let writes = 0; writes < total; ) {
    const c = w.nextChange();
    if (c.kind === 'rollout' || c.kind === 'policyEdit') continue;
    changes.push(c.writes.flatMap((x) => (x.resource ? [x.resource] : [])));
    writes += changes.at(-1)!.length;
    if (c.kind === 'endpointFlap' || c.kind === 'scale' || c.kind === 'restart') endpointChanges++;
  }
  const writes = changes.reduce((n, c) => n + c.length, 0);
  const before = await publishHistogram(url);
  const storeBefore = await histogramSums(url, 'fedmesh_hub_store_operation_seconds');
  const httpBefore = await histogramSums(url, 'fedmesh_hub_http_request_duration_seconds');
  const gcBefore = await histogramSums(url, 'fedmesh_hub_nodejs_gc_duration_seconds');
  const roundsBefore = await histogramSums(url, 'fedmesh_hub_sync_round_seconds');
  const revisionBefore = highestRevision;
  const revisions = new Set<number>();
  const cpu0 = cpuSeconds(pid);
  const nats0 = natsServerPid ? cpuSeconds(natsServerPid) : 0;
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  const created = new Map<string, Promise<void>>();
  /**
   * Claims the Services `resources` create (settled by `finished`) and returns the creations
   * they wait for: an endpoint change of a service another request is still creating waits for
   * it. Claimed in request order before any waiting, so that a later request always finds the
   * earlier one it depends on (and never the reverse).
   */
  const claim = (resources: readonly Resource[], finished: Promise<void>): Promise<void>[] => {
    const mine = resources
      .filter((r) => r.kind === 'Service')
      .map((r) => `${r.metadata.namespace}/${r.metadata.name}`);
    const deps = resources.flatMap((r) => {
      const service = r.kind === 'ServiceEndpoints' ? `${r.metadata.namespace}/${r.spec.service}` : '';
      const creating = service && !mine.includes(service) ? created.get(service) : undefined;
      return creating ? [creating] : [];
    });
    for (const key of mine) created.set(key, finished);
    return deps;
  };
  if (batchSize > 1) {
    // Changes in requests of batchSize, each POST /v1/apply sent when its first change is due.
    // Two writes of one key in a batch keep the last (what any batching client does).
    let coalesced = 0;
    const batches: { at: number; resources: Resource[] }[] = [];
    for (let i = 0; i < changes.length; i += batchSize) {
      const byKey = new Map<string, Resource>();
      for (const c of changes.slice(i, i + batchSize)) for (const r of c) byKey.set(keyPath(r), r);
      coalesced += changes.slice(i, i + batchSize).reduce((n, c) => n + c.length, 0) - byKey.size;
      batches.push({ at: i, resources: [...byKey.values()] });
    }
    // A batch plans its writes against the store (preconditions), so two batches in flight
    // writing one key would conflict: a batch waits for the earlier ones that share a key.
    const writing = new Map<string, Promise<void>>();
    const batchWorker = async () => {
      for (;;) {
        const b = batches[next++];
        if (!b) return;
        let done!: () => void;
        const finished = new Promise<void>((r) => (done = r));
        const deps = claim(b.resources, finished);
        const keys = b.resources.map(keyPath);
        const earlier = keys.map((k) => writing.get(k));
        for (const k of keys) writing.set(k, finished);
        const wait = t0 + (b.at * 1000) / rate - performance.now();
        if (wait > 0) await sleep(wait);
        await Promise.all(deps);
        await Promise.all(earlier);
        await applyBatch(url, b.resources, revisions).catch((err) => {
          if (failed++ < 3) console.log(`  a batch failed: ${(err as Error).message.slice(0, 300)}`);
        });
        done();
      }
    };
    await Promise.all(Array.from({ length: inflight }, batchWorker));
    if (coalesced) console.log(`  ${coalesced} writes coalesced within their batch`);
  }
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= changes.length) return;
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const deps = claim(changes[i]!, finished);
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 0) await sleep(wait);
      await Promise.all(deps);
      for (const r of changes[i]!) {
        await put(url, r, revisions).catch((err) => {
          if (failed++ < 3) console.log(`  a write failed: ${(err as Error).message.slice(0, 200)}`);
        });
      }
      done();
    }
  };
  if (batchSize === 1) await Promise.all(Array.from({ length: 64 }, worker));
  const sentS = (performance.now() - t0) / 1000;
  // A write that changes nothing (a flap back to what the store holds) answers with the
  // revision the resource already had: the writes that count are the new revisions.
  const real = [...revisions].filter((r) => r > revisionBefore).length;
  let after = await publishHistogram(url);
  const deadline = performance.now() + 60_000;
  while (after.count - before.count < real && performance.now() < deadline) {
    await sleep(200);
    after = await publishHistogram(url);
  }
  const cpuS = cpuSeconds(pid) - cpu0;
  // Where a request's time goes: the hub's own wait for JetStream, against the whole request.
  const storeMeans = meansBetween(
    storeBefore,
    await histogramSums(url, 'fedmesh_hub_store_operation_seconds'),
  );
  const httpMeans = meansBetween(
    httpBefore,
    await histogramSums(url, 'fedmesh_hub_http_request_duration_seconds'),
  );
  const roundMeans = meansBetween(roundsBefore, await histogramSums(url, 'fedmesh_hub_sync_round_seconds'));
  const gcAfter = await histogramSums(url, 'fedmesh_hub_nodejs_gc_duration_seconds');
  const gcS = [...gcAfter].map(
    ([labels, a]) => `${labels} ${(a.sum - (gcBefore.get(labels)?.sum ?? 0)).toFixed(2)} s`,
  );
  const elapsedS = (performance.now() - t0) / 1000;
  // Where the two cores went: the hub, nats-server and this driver share them.
  const natsS = natsServerPid ? cpuSeconds(natsServerPid) - nats0 : Number.NaN;
  const self = process.cpuUsage(self0);
  const driverS = (self.user + self.system) / 1e6;
  const published = after.count - before.count;
  const within =
    (after.le.get(String(CONVERGED_WITHIN_S)) ?? 0) - (before.le.get(String(CONVERGED_WITHIN_S)) ?? 0);
  const within1 = (after.le.get('1') ?? 0) - (before.le.get('1') ?? 0);
  const achieved = changes.length / sentS;
  const kept = achieved >= rate * 0.95 && failed === 0 && published === real && within === real;
  console.log(
    `  sustained ${rate} changes/s${batchSize > 1 ? ` in batches of ${batchSize}` : ''} (${Math.round((endpointChanges / changes.length) * 100)}% endpoint changes): ` +
      `${changes.length} changes, ${writes} writes in ${sentS.toFixed(1)} s (${achieved.toFixed(0)} changes/s, ${failed} failed); ` +
      `${real} changed the store, ${published} published, ${within} within ${CONVERGED_WITHIN_S} s, ${within1} within 1 s; ` +
      `hub CPU ${((cpuS / elapsedS) * 100).toFixed(0)}% of a core over ${elapsedS.toFixed(1)} s ` +
      `(nats-server ${((natsS / elapsedS) * 100).toFixed(0)}%, this driver ${((driverS / elapsedS) * 100).toFixed(0)}%); ${kept ? 'KEPT' : 'NOT kept'}`,
  );
  console.log(
    `    requests (mean): ${httpMeans}\n    store operations (mean): ${storeMeans}\n` +
      `    publication rounds (mean): ${roundMeans}\n    hub GC pauses: ${gcS.join(', ')}`,
  );
  return kept;
}

/** One POST /v1/apply; the revisions of what it wrote go into `revisions`. */
async function applyBatch(url: string, resources: Resource[], revisions: Set<number>): Promise<void> {
  const res = await fetch(`${url}/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(resources),
  });
  const body = (await res.json()) as { items?: { result: string; revision?: number; message?: string }[] };
  if (!res.ok) throw new Error(`apply: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
  for (const item of body.items ?? []) {
    if (item.result === 'created' || item.result === 'updated') {
      revisions.add(item.revision!);
      highestRevision = Math.max(highestRevision, item.revision!);
    } else if (item.result !== 'unchanged') throw new Error(`apply: an item ${item.result}: ${item.message}`);
  }
}

async function put(url: string, r: Resource, revisions?: Set<number>): Promise<void> {
  const res = await fetch(url + keyPath(r), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(r),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`PUT ${keyPath(r)}: ${res.status} ${text.slice(0, 300)}`);
  const revision = Number(res.headers.get('etag')?.replaceAll('"', '') ?? 0);
  highestRevision = Math.max(highestRevision, revision);
  revisions?.add(revision);
}

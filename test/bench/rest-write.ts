/**
 * The hub's whole write path, measured from outside: REST parsing and validation, reference
 * checks, the KV write, the audit record and publication, as the hub process's own CPU time
 * (utime + stime from /proc/<pid>/stat, every thread), with the same process's idle CPU over an
 * equal quiet spell subtracted.
 *
 *   npx tsx test/bench/rest-write.ts [--sizes 1000,50000] [--writes 300] [--regions 50]
 *
 * For each mesh size, in a fresh nats-server and hub process: the bulk apply of the whole mesh
 * (POST /v1/apply in 2 MB batches: wall time and hub CPU), then `--writes` single PUTs of the
 * workload's churn (endpoint flaps, scaling, restarts, rollouts), one at a time, and the hub CPU
 * per write. The goal: CPU per write at ~50k ÷ at ~1k resources ≤ 2.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
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
  },
});
const sizes = values.sizes.split(',').map(Number);
const writes = Number(values.writes);
const regions = Number(values.regions);
/** Resources per service in the workload's default mix (measured: 34,159 for 10,000 services). */
const RESOURCES_PER_SERVICE = 3.41;
const TICK = 100; // USER_HZ

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

async function startHub(natsUrl: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
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
  const pid = hub.proc.pid!;
  try {
    const c0 = cpuSeconds(pid);
    const t0 = performance.now();
    await applyMesh(hub.url, w.initial);
    const applyS = (performance.now() - t0) / 1000;
    await sleep(1_000); // publication of the initial views
    const applyCpuS = cpuSeconds(pid) - c0;

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

async function put(url: string, r: Resource): Promise<void> {
  const res = await fetch(url + keyPath(r), {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(r),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`PUT ${keyPath(r)}: ${res.status} ${text.slice(0, 300)}`);
}

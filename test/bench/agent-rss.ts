/**
 * The agent's memory as a real process, started through its bin as a user starts it:
 *
 *   npx tsx test/bench/agent-rss.ts [--resources 10000] [--regions 3] [--settle 10]
 *
 * 1. Idle: an agent whose region's view is empty, once from the release build (dist/, no
 *    TypeScript loader) and once from the sources through tsx (FEDMESH_FROM_SOURCE=1).
 * 2. Holding a view: a generated mesh whose largest region view has `--resources` resources is
 *    applied to the hub (POST /v1/apply), an agent of that region (release build) syncs it and
 *    serves it over xDS; RSS once it holds the hub's hash and after `--settle` s more.
 * RSS is VmRSS from /proc (VmHWM for the peak). Needs `npm run build` first for the build rows.
 * `--node-options "<v8 flags>"` starts the agents with those flags (NODE_OPTIONS).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { applyMesh } from '../bandwidth/support/fleet.js';
import { freePort, startTestHub, waitConverged, waitFor } from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { meshForView } from './agent-apply.js';

const { values } = parseArgs({
  options: {
    resources: { type: 'string', default: '10000' },
    regions: { type: 'string', default: '3' },
    settle: { type: 'string', default: '10' },
    // V8 flags for the agents only (NODE_OPTIONS), e.g. "--max-semi-space-size=2".
    'node-options': { type: 'string', default: '' },
  },
});
const MiB = 1024 * 1024;
const kb = (pid: number, field: string) =>
  Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0) *
  1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!existsSync('dist/fedmesh-agent.mjs')) throw new Error('run "npm run build" first');
const nats = await startNatsServer();
const hub = await startTestHub(nats.url);
const dirs: string[] = [];
const procs: ReturnType<typeof spawn>[] = [];

async function startAgent(region: string, fromSource: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'fm-rss-'));
  dirs.push(dir);
  const status = await freePort();
  const proc = spawn(
    process.execPath,
    [
      'edge-agent/bin/fedmesh-agent.mjs',
      ...['--region', region, '--nats', nats.url, '--state-dir', dir],
      ...['--xds-listen', `127.0.0.1:${await freePort()}`, '--status-listen', `127.0.0.1:${status}`],
    ],
    {
      stdio: 'ignore',
      env: {
        ...process.env,
        ...(fromSource ? { FEDMESH_FROM_SOURCE: '1' } : {}),
        ...(values['node-options'] ? { NODE_OPTIONS: values['node-options'] } : {}),
      },
    },
  );
  procs.push(proc);
  const statusUrl = `http://127.0.0.1:${status}`;
  await waitFor(async () => (await fetch(`${statusUrl}/status`)).ok, {
    what: 'the agent to listen',
    timeoutMs: 60_000,
  });
  return { pid: proc.pid!, statusUrl, stop: () => proc.kill('SIGTERM') };
}

try {
  // 1. Idle, build against sources, side by side (three of each, alternating).
  const idle: Record<'build' | 'source', number[]> = { build: [], source: [] };
  for (let i = 0; i < 3; i++) {
    for (const mode of ['build', 'source'] as const) {
      const a = await startAgent(`idle-${mode}-${i}`, mode === 'source');
      await sleep(3000);
      idle[mode].push(kb(a.pid, 'VmRSS'));
      a.stop();
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(
    `agent idle RSS (empty view, 3 runs each): release build median ${(median(idle.build) / MiB).toFixed(1)} MiB ` +
      `[${idle.build.map((x) => (x / MiB).toFixed(1)).join(', ')}], sources through tsx median ${(median(idle.source) / MiB).toFixed(1)} MiB ` +
      `[${idle.source.map((x) => (x / MiB).toFixed(1)).join(', ')}]: ${((median(idle.source) - median(idle.build)) / MiB).toFixed(1)} MiB less`,
  );

  // 2. Holding a view of --resources resources.
  const { workload, region, size } = meshForView(Number(values.resources), Number(values.regions), 1);
  await applyMesh(hub.url, workload.initial);
  const a = await startAgent(region, false);
  const t0 = performance.now();
  await waitConverged(hub.url, a.statusUrl, region, 300_000);
  const synced = (performance.now() - t0) / 1000;
  const atSync = kb(a.pid, 'VmRSS');
  await sleep(Number(values.settle) * 1000);
  console.log(
    `agent holding region ${region}'s view of ${size.toLocaleString('en-US')} resources (release build): ` +
      `in sync after ${synced.toFixed(1)} s; RSS ${(atSync / MiB).toFixed(1)} MiB then, ${(kb(a.pid, 'VmRSS') / MiB).toFixed(1)} MiB ` +
      `${values.settle} s later, peak ${(kb(a.pid, 'VmHWM') / MiB).toFixed(1)} MiB (goal <= 80 MiB)`,
  );
  a.stop();
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
} finally {
  for (const p of procs) p.kill('SIGTERM');
  await hub.stop();
  await nats.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

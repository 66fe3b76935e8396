/**
 * Reconnect storm (issue 16, item 3): `--agents` agents of as many regions, each with a state dir
 * and ports of its own, started at once against a 3-node JetStream cluster served by two hubs
 * (`--replicas 3`). Every region has a Region and a small mesh of its own (a service with
 * endpoints there, its policy, and a dependency on a service every region shares).
 *
 *   npx tsx test/bench/reconnect-storm.ts [--agents 50] [--from-source] [--json FILE]
 *
 * Reports: the time from the spawn of the first agent until every agent's /status hash equals the
 * hub's view hash; each agent's start-up time (spawn to /status answering) and time to converge;
 * the hubs' CPU seconds over the storm and their peak RSS (utime + stime and VmHWM from /proc);
 * the load average before and after. Agents run the release build (dist/, `npm run build`
 * first) unless `--from-source` (FEDMESH_FROM_SOURCE=1: tsx compiles the sources at start-up).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { API_VERSION, type Resource, sampleMesh } from '@fedmesh/shared';
import { createManagedProcess, type ManagedProcess, stablePort } from '../chaos/procs.js';
import { startNatsCluster } from '../support/nats.js';

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '50' },
    'from-source': { type: 'boolean', default: false },
    json: { type: 'string' },
    'timeout-s': { type: 'string', default: '300' },
  },
});
const AGENTS = Number(values.agents);
const fromSource = values['from-source'];
const CLK_TCK = 100; // Linux's USER_HZ, what /proc/<pid>/stat counts in

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}
function statusKb(pid: number, field: string): number {
  return Number(
    readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`))?.[1] ?? 0,
  );
}

/** A region of its own: its Region, a service running there that depends on a shared one, a policy. */
function regionMesh(i: number): Resource[] {
  const name = `storm-${String(i).padStart(2, '0')}`;
  const svc = `app-${i}`;
  const meta = (n: string) => ({ name: n, namespace: 'shop' });
  return [
    {
      apiVersion: API_VERSION,
      kind: 'Region',
      metadata: { name },
      spec: {
        labels: { geo: 'storm' },
        link: { budget: '256KiB/s' },
        gateway: { address: `10.200.${i}.1`, port: 15443 },
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'Service',
      metadata: meta(svc),
      spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }], dependsOn: ['payments'] },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ServiceEndpoints',
      metadata: meta(`${svc}-${name}`),
      spec: {
        service: svc,
        region: name,
        endpoints: Array.from({ length: 4 }, (_, j) => ({ address: `10.200.${i}.${10 + j}`, port: 8080 })),
      },
    },
    {
      apiVersion: API_VERSION,
      kind: 'AuthorizationPolicy',
      metadata: meta(`${svc}-callers`),
      spec: { service: svc, action: 'allow', rules: [{ from: ['shop/frontend'] }] },
    },
  ] as Resource[];
}

async function apply(hubUrl: string, docs: Resource[]): Promise<void> {
  const res = await fetch(`${hubUrl}/v1/apply`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(docs),
    signal: AbortSignal.timeout(60_000),
  });
  if (!res.ok) throw new Error(`apply: ${res.status} ${await res.text()}`);
}

const dir = mkdtempSync(join(tmpdir(), 'fedmesh-storm-'));
const procs: ManagedProcess[] = [];
let cluster: Awaited<ReturnType<typeof startNatsCluster>> | undefined;
try {
  cluster = await startNatsCluster(3);
  const natsList = cluster.urls.join(',');
  const hubs: ManagedProcess[] = [];
  for (const name of ['hub-a', 'hub-b']) {
    const port = await stablePort();
    const hub = createManagedProcess({
      name,
      bin: 'hub/bin/fedmesh-hub.mjs',
      args: [
        ...['--nats', natsList, '--listen', `127.0.0.1:${port}`, '--replicas', '3', '--log-level', 'warn'],
        ...['--signing-key', join(dir, 'hub.pem')],
      ],
      url: `http://127.0.0.1:${port}`,
      readyPath: '/readyz',
    });
    hubs.push(hub);
    procs.push(hub);
    await hub.start();
  }
  const regions = Array.from({ length: AGENTS }, (_, i) => `storm-${String(i).padStart(2, '0')}`);
  await apply(hubs[0]!.url, [
    ...sampleMesh(),
    ...Array.from({ length: AGENTS }, (_, i) => regionMesh(i)).flat(),
  ]);
  // Both hubs hold every region's view before the storm.
  for (const hub of hubs) {
    for (const r of regions) {
      for (;;) {
        const res = await fetch(`${hub.url}/v1/regions/${r}/view`);
        await res.arrayBuffer();
        if (res.ok) break;
        await sleep(100);
      }
    }
  }

  const agents = await Promise.all(
    regions.map(async (region) => {
      const stateDir = join(dir, region);
      mkdirSync(stateDir);
      const [status, xds] = [await stablePort(), await stablePort()];
      return createManagedProcess({
        name: `agent-${region}`,
        bin: 'edge-agent/bin/fedmesh-agent.mjs',
        args: [
          ...['--region', region, '--nats', natsList, '--state-dir', stateDir],
          ...['--xds-listen', `127.0.0.1:${xds}`, '--status-listen', `127.0.0.1:${status}`],
          ...['--log-level', 'warn'],
        ],
        url: `http://127.0.0.1:${status}`,
        readyPath: '/status',
        env: fromSource ? { FEDMESH_FROM_SOURCE: '1' } : { FEDMESH_FROM_SOURCE: '0' },
        startTimeoutMs: Number(values['timeout-s']) * 1000,
      });
    }),
  );
  procs.push(...agents);

  const load0 = loadavg();
  const hubPids = hubs.map((h) => h.pid()!);
  const cpu0 = hubPids.map(cpuSeconds);
  let peakRss = hubPids.map((pid) => statusKb(pid, 'VmRSS'));
  const sampler = setInterval(() => {
    peakRss = hubPids.map((pid, i) => Math.max(peakRss[i]!, statusKb(pid, 'VmRSS')));
  }, 200);

  const t0 = Date.now();
  const startedAt: number[] = [];
  const convergedAt: (number | undefined)[] = regions.map(() => undefined);
  const failures: string[] = [];
  const starting = agents.map((a, i) =>
    a.start().then(
      () => {
        startedAt[i] = Date.now() - t0;
      },
      (err: Error) => {
        failures.push(`${a.name}: ${err.message.slice(0, 600)}`);
      },
    ),
  );
  const deadline = t0 + Number(values['timeout-s']) * 1000;
  const viewHash = new Map<string, string>();
  while (convergedAt.some((c) => c === undefined) && Date.now() < deadline) {
    await Promise.all(
      regions.map(async (region, i) => {
        if (convergedAt[i] !== undefined || startedAt[i] === undefined) return;
        try {
          if (!viewHash.has(region)) {
            const v = (await (await fetch(`${hubs[0]!.url}/v1/regions/${region}/view`)).json()) as {
              hash: string;
            };
            viewHash.set(region, v.hash);
          }
          const s = (await (
            await fetch(`${agents[i]!.url}/status`, { signal: AbortSignal.timeout(2_000) })
          ).json()) as {
            hash: string;
          };
          if (s.hash === viewHash.get(region)) convergedAt[i] = Date.now() - t0;
        } catch {
          // not answering yet
        }
      }),
    );
    await sleep(200);
  }
  await Promise.allSettled(starting);
  clearInterval(sampler);
  await sleep(0);
  const allMs = convergedAt.every((c) => c !== undefined) ? Math.max(...(convergedAt as number[])) : null;
  const started = startedAt.filter((x) => x !== undefined);
  const cpu = hubPids.map((pid, i) => cpuSeconds(pid) - cpu0[i]!);
  // Each agent's CPU since its spawn: start-up and its first sync, on a machine shared by all.
  const agentCpu = agents
    .map((a) => (a.pid() ? cpuSeconds(a.pid()!) : Number.NaN))
    .filter((x) => !Number.isNaN(x));
  const hwm = hubPids.map((pid) => statusKb(pid, 'VmHWM'));
  const load1 = loadavg();
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  const pct = (xs: number[], p: number) =>
    sorted(xs)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
  const conv = convergedAt.filter((c): c is number => c !== undefined);
  const report = {
    agents: AGENTS,
    build: fromSource ? 'sources via tsx (FEDMESH_FROM_SOURCE=1)' : 'release build (dist/)',
    converged: conv.length,
    allConvergedMs: allMs,
    started: started.length,
    agentStartMs: { p50: pct(started, 50), p90: pct(started, 90), max: Math.max(...started) },
    agentConvergedMs: { p50: pct(conv, 50), p90: pct(conv, 90), max: Math.max(...conv) },
    agentCpuSeconds: {
      total: Math.round(agentCpu.reduce((a, b) => a + b, 0) * 10) / 10,
      p50: pct(agentCpu, 50),
      max: Math.max(...agentCpu),
    },
    hubs: hubs.map((h, i) => ({
      name: h.name,
      cpuSeconds: Math.round(cpu[i]! * 100) / 100,
      // VmHWM is the process's peak; the 200 ms samples of VmRSS say the same within a sample.
      peakRssMiB: Math.round((Math.max(peakRss[i]!, hwm[i]!) / 1024) * 10) / 10,
    })),
    loadavg: { before: load0, after: load1 },
    ownExits: procs.flatMap((p) => p.ownExits.map((e) => `${e.process}: ${e.tail.slice(-400)}`)),
    failures,
  };
  console.log(JSON.stringify(report, null, 2));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await Promise.all(procs.map((p) => p.stop()));
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
}

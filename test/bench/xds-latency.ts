/**
 * How long a route change takes to reach a proxyless gRPC client, on loopback:
 *
 *   npx tsx test/bench/xds-latency.ts [--flips 20] [--debounce 100ms] [--max-wait 1s]
 *
 * Real parts, each in its own process so that none shares an event loop with another: a
 * nats-server, the hub and the agent through their bins, a @grpc/grpc-js-xds client dialling
 * `xds:///payments.shop` through the agent, and gRPC backends for subsets v1 and v2 (these and
 * the timing live in this process). Each flip PUTs a 100/0 route as 0/100 (or back) at the hub
 * and times until the first call lands on the other subset; the client calls back to back, one
 * in flight. The agent runs as in production (info log): its 'view applied' log line says when it
 * applied each view, and its `fedmesh_agent_apply_to_push_seconds` histogram on /metrics, read
 * before and after each flip, how long until the one RouteConfiguration push was written.
 * The hub defaults to its production debounce (100ms): a change waits that long for company.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  agentStatus,
  freePort,
  hubClient,
  removeDir,
  spawnAgent,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { startBackend, startXdsClient } from '../xds/support.js';
import { type LabelledBackend, putPaymentsMesh, putRoute, REGION, TARGET } from '../xds-e2e/mesh.js';

const { values } = parseArgs({
  options: {
    flips: { type: 'string', default: '20' },
    debounce: { type: 'string', default: '100ms' },
    'max-wait': { type: 'string', default: '1s' },
  },
});
const FLIPS = Number(values.flips);
const ROOT = resolve(import.meta.dirname, '../..');

async function startHubProcess(natsUrl: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      resolve(ROOT, 'hub/bin/fedmesh-hub.mjs'),
      ...['--nats', natsUrl, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
      ...['--debounce', values.debounce, '--max-wait', values['max-wait']],
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/healthz`)).ok, { what: 'the hub', timeoutMs: 30_000 });
  return { url, proc };
}

/** Nearest-rank percentile: with 20 samples p99 is the largest, which is what it should say. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function row(name: string, samples: readonly number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const ms = (v: number) => v.toFixed(1).padStart(8);
  return `| ${name.padEnd(46)} | ${ms(percentile(s, 50))} | ${ms(percentile(s, 99))} | ${ms(s[0]!)} | ${ms(s.at(-1)!)} | ${String(s.length).padStart(3)} |`;
}

/** SIGTERM, then SIGKILL if it has not exited after 5 s (a hub cut off from NATS may not). */
async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Count and sum (seconds) of the agent's RDS apply-to-push histogram. */
async function rdsPushes(statusUrl: string): Promise<{ count: number; sum: number }> {
  const text = await (await fetch(`${statusUrl}/metrics`)).text();
  const read = (suffix: string) =>
    Number(
      new RegExp(`^fedmesh_agent_apply_to_push_seconds_${suffix}\\{type="rds"\\} (\\S+)$`, 'm').exec(
        text,
      )?.[1] ?? 0,
    );
  return { count: read('count'), sum: read('sum') };
}

async function main(): Promise<void> {
  // Everything started is stopped on the way out, failures included: no orphaned hub or agent.
  const stops: (() => Promise<unknown> | undefined)[] = [];
  try {
    await run(stops);
  } finally {
    for (const stop of stops.reverse()) await stop()?.catch(() => undefined);
  }
}

async function run(stops: (() => Promise<unknown> | undefined)[]): Promise<void> {
  const backends: LabelledBackend[] = [];
  stops.push(() => Promise.all(backends.map((b) => b.backend.close())));
  backends.push({ backend: await startBackend('v1-a'), subset: 'v1' });
  backends.push({ backend: await startBackend('v2-a'), subset: 'v2' });
  const nats = await startNatsServer();
  stops.push(() => nats.cleanup());
  const hub = await startHubProcess(nats.url);
  stops.push(() => stopProcess(hub.proc));
  const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-xds-bench-'));
  stops.push(() => {
    removeDir(stateDir);
    return undefined;
  });
  const api = hubClient(hub.url);
  await putPaymentsMesh(api, backends, [100, 0]);
  const agent = await spawnAgent(nats.url, REGION, stateDir);
  stops.push(() => stopProcess(agent.proc));
  // The agent's own info log says when it applied each view (pino `time`, ms since the epoch).
  const applied = new Map<number, number>();
  let partial = '';
  agent.proc.stdout?.on('data', (d: Buffer) => {
    partial += d.toString();
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      const text = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
      try {
        const line = JSON.parse(text) as { msg?: string; version?: number; time: number };
        if (line.msg === 'view applied' && line.version !== undefined) applied.set(line.version, line.time);
      } catch {
        // not a log line
      }
    }
  });
  await waitConverged(hub.url, agent.statusUrl, REGION, 30_000);
  const client = await startXdsClient({ xdsPort: agent.xdsPort, nodeId: 'bench', region: REGION });
  stops.push(() => client.close());

  const warm = await client.calls(TARGET, 200);
  if (Object.keys(warm.errors).length > 0 || warm.counts['v1-a'] !== 200) {
    throw new Error(`client not ready: ${JSON.stringify(warm)}`);
  }
  const endToEnd: number[] = [];
  const putToApply: number[] = [];
  const applyToPush: number[] = [];
  const pushToClient: number[] = [];
  let toV2 = true;
  for (let flip = 0; flip < FLIPS; flip++) {
    const before = await rdsPushes(agent.statusUrl);
    const target = toV2 ? 'v2-a' : 'v1-a';
    const changed = client.until(TARGET, [target], { timeoutMs: 15_000, deadlineMs: 2000 });
    await sleep(20); // lets the client's call loop start before the PUT
    const t0 = performance.timeOrigin + performance.now();
    await putRoute(api, toV2 ? [0, 100] : [100, 0]);
    const result = await changed;
    if (result.at === null) throw new Error(`flip ${flip}: the client never reached ${target}`);
    endToEnd.push(result.at - t0);
    // One flip, one view, one RDS response to the one client: the histogram's sum grows by its time.
    const after = await waitFor(
      async () => {
        const now = await rdsPushes(agent.statusUrl);
        return now.count === before.count + 1 ? now : undefined;
      },
      { what: `the agent's RouteConfiguration push of flip ${flip}` },
    );
    const pushMs = (after!.sum - before.sum) * 1000;
    applyToPush.push(pushMs);
    const { version } = await agentStatus(agent.statusUrl);
    const appliedAt = applied.get(version);
    if (appliedAt !== undefined) {
      putToApply.push(appliedAt - t0);
      pushToClient.push(result.at - (appliedAt + pushMs));
    }
    toV2 = !toV2;
    // Quiet time so that each flip is a change of its own, not batched with the next by the debounce.
    await sleep(300);
  }

  const total = await rdsPushes(agent.statusUrl);
  const header = `| ${'segment'.padEnd(46)} | ${'p50 ms'.padStart(8)} | ${'p99 ms'.padStart(8)} | ${'min ms'.padStart(8)} | ${'max ms'.padStart(8)} | ${'n'.padStart(3)} |`;
  const out = [
    `fedmesh xDS latency on loopback — ${FLIPS} route flips (100/0 ⇄ 0/100), hub --debounce ${values.debounce} --max-wait ${values['max-wait']}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}`,
    header,
    `|${'-'.repeat(header.length - 2)}|`,
    row('hub PUT → client calls land on the new subset', endToEnd),
    row('  hub PUT → agent view applied (log, 1 ms)', putToApply),
    row('  agent apply → RDS push written (metric)', applyToPush),
    row('  push written → client behaviour change', pushToClient),
    '',
    `fedmesh_agent_apply_to_push_seconds{type="rds"} on the agent's /metrics: count ${total.count}, mean ${((total.sum / total.count) * 1000).toFixed(2)} ms`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();

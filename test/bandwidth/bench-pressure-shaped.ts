/**
 * The urgent lane on a real shaped line: two network namespaces joined by a veth pair shaped
 * with `tc tbf` (both directions) to `--link` Mbit/s. nats-server and the hub (its default
 * debounce) in one; the agent, a proxyless gRPC client (@grpc/grpc-js-xds) and its 11 gRPC
 * backends in the other, as a region's node would be. The Region's budget is `--budget`.
 * Before every try rolling restarts queue at least `--backlog` for the region; then an endpoint
 * removal is PUT and timed until the client's calls no longer reach the removed backend. The
 * veth's received bytes are sampled every 250 ms for the 5 s windows of the line.
 * Needs root and iproute2 (`ip netns`, `tc`).
 *
 *   npx tsx test/bandwidth/bench-pressure-shaped.ts [--link 0.5] [--budget 32KiB/s] [--burst 64KiB]
 *       [--tries 10] [--backlog 1MiB]
 *       [--coalesce-after 0s] [--churn 25]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { API_VERSION, parseByteRate, parseByteSize, parseDuration, type Resource } from '@fedmesh/shared';
import { waitFor } from '../support/fedmesh.js';
import { findNatsServerBinary } from '../support/nats.js';
import { startXdsClient } from '../xds/support.js';
import { applyMesh } from './support/fleet.js';
import { generateMesh, rollEndpoints } from './support/mesh.js';
import {
  type Bridge,
  bridge,
  createShapedLink,
  HELPER,
  type NsProcess,
  nsSpawn,
  shapedLinkUnavailable,
} from './support/netns.js';
import { largestFiveSecondWindow, msUntilGone, quantile } from './support/pressure.js';

const { values } = parseArgs({
  options: {
    link: { type: 'string', default: '0.5' },
    budget: { type: 'string', default: '32KiB/s' },
    burst: { type: 'string', default: '64KiB' },
    tries: { type: 'string', default: '10' },
    backlog: { type: 'string', default: '1MiB' },
    'coalesce-after': { type: 'string', default: '0s' },
    churn: { type: 'string', default: '25' },
  },
});
const unavailable = shapedLinkUnavailable();
if (unavailable) {
  console.error(`cannot build a shaped link here: ${unavailable}`);
  process.exit(2);
}
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
const REGION = 'eu-west';
const NS = 'shop';
const TARGET = 'xds:///payments.shop';

const procs: NsProcess[] = [];
const bridges: Bridge[] = [];
const dirs: string[] = [];
const link = createShapedLink(Number(values.link));
const spawnIn = (ns: string, command: string, args: string[]) => {
  const p = nsSpawn(ns, command, args);
  procs.push(p);
  return p;
};
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
let client: Awaited<ReturnType<typeof startXdsClient>> | undefined;
try {
  const natsDir = tempDir('fmbw-nats-');
  writeFileSync(
    join(natsDir, 'nats.conf'),
    `listen: "0.0.0.0:4222"\njetstream { store_dir: ${JSON.stringify(join(natsDir, 'store'))} }\n`,
  );
  await spawnIn(link.hubNs, findNatsServerBinary()!, ['-c', join(natsDir, 'nats.conf')]).waitForOutput(
    /Server is ready/,
  );
  spawnIn(link.hubNs, process.execPath, [
    'hub/bin/fedmesh-hub.mjs',
    ...['--nats', 'nats://127.0.0.1:4222', '--listen', '127.0.0.1:8080', '--log-level', 'warn'],
    ...['--coalesce-after', COALESCE_AFTER],
  ]);
  const hubSide = await bridge(link.hubNs, [8080]);
  bridges.push(hubSide);
  const hubUrl = `http://127.0.0.1:${hubSide.port(8080)}`;
  await waitFor(async () => (await fetch(`${hubUrl}/healthz`)).ok, { what: 'the hub', timeoutMs: 60_000 });
  const put = async (r: Resource) => {
    const res = await fetch(
      `${hubUrl}/v1/resources/${r.kind}/${r.metadata.namespace ?? '_'}/${r.metadata.name}`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(r),
      },
    );
    const text = await res.text();
    if (!res.ok) throw new Error(`PUT ${r.kind}/${r.metadata.name}: ${res.status} ${text.slice(0, 300)}`);
  };
  const regionLine = async () =>
    (await (await fetch(`${hubUrl}/v1/regions/${REGION}`)).json()) as {
      bytesSent: number;
      line: { queuedBytes: number; holdingSince: string | null; coalescedRounds: number };
    };

  const names = Array.from({ length: TRIES + 1 }, (_, i) => `b${i}`);
  const backendsProc = spawnIn(link.agentNs, process.execPath, [HELPER, 'who-backends', ...names]);
  const backends = JSON.parse(await backendsProc.waitForOutput(/^\[.*\]$/m)) as {
    name: string;
    port: number;
  }[];
  const payments = (live: typeof backends): Resource =>
    ({
      apiVersion: API_VERSION,
      kind: 'ServiceEndpoints',
      metadata: { name: `payments-${REGION}`, namespace: NS },
      spec: {
        service: 'payments',
        region: REGION,
        endpoints: live.map((b) => ({ address: '127.0.0.1', port: b.port, labels: { backend: b.name } })),
      },
    }) as Resource;

  const mesh = generateMesh({
    services: 150,
    endpointsPerService: 100,
    link: { budget: values.budget!, burst: values.burst! },
    seed: 13,
  });
  await applyMesh(hubUrl, mesh);
  await put({
    apiVersion: API_VERSION,
    kind: 'Service',
    metadata: { name: 'payments', namespace: NS },
    spec: { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] },
  } as Resource);
  let live = [...backends];
  await put(payments(live));

  const probe = spawnIn(link.agentNs, process.execPath, [HELPER, 'probe', link.agentIf, '250']);
  const rx: { t: number; rx: number }[] = [];
  createInterface({ input: probe.proc.stdout! }).on('line', (line) => {
    try {
      rx.push(JSON.parse(line) as { t: number; rx: number });
    } catch {
      // not a sample
    }
  });
  const stateDir = tempDir('fmbw-agent-');
  spawnIn(link.agentNs, process.execPath, [
    'edge-agent/bin/fedmesh-agent.mjs',
    ...['--region', REGION, '--nats', `nats://${link.hubAddr}:4222`, '--state-dir', stateDir],
    ...['--xds-listen', '127.0.0.1:18000', '--status-listen', '127.0.0.1:9902', '--log-level', 'warn'],
  ]);
  const agentSide = await bridge(link.agentNs, [9902]);
  bridges.push(agentSide);
  const agentUrl = `http://127.0.0.1:${agentSide.port(9902)}`;
  await waitFor(
    async () => {
      const desired = (await (await fetch(`${hubUrl}/v1/regions/${REGION}`)).json()) as {
        desired: { hash: string };
      };
      const held = (await (await fetch(`${agentUrl}/status`)).json()) as { hash: string };
      return held.hash === desired.desired.hash;
    },
    { what: `${REGION} to converge over the shaped link`, timeoutMs: 180_000 },
  );
  client = await startXdsClient({
    xdsPort: 18000,
    nodeId: 'pressure-shaped',
    region: REGION,
    netns: link.agentNs,
  });
  await waitFor(async () => Object.keys((await client!.calls(TARGET, 40)).counts).length === live.length, {
    what: 'the client to reach every backend',
    timeoutMs: 60_000,
  });

  const endpoints = mesh.filter((r) => r.kind === 'ServiceEndpoints' && r.spec.region === REGION);
  let round = 0;
  const times: number[] = [];
  const tryFrom = rx.length;
  for (let i = 0; i < TRIES; i++) {
    let line = (await regionLine()).line;
    for (let batches = 0; line.queuedBytes < BACKLOG; batches++) {
      if (COALESCING && line.holdingSince && batches >= CHURN) break;
      const batch: Resource[] = [];
      for (let j = 0; j < 20; j++, round++)
        batch.push(rollEndpoints(endpoints[round % endpoints.length]!, 400_000 + round));
      await applyMesh(hubUrl, batch);
      await new Promise((r) => setTimeout(r, 150)); // its own publication round
      line = (await regionLine()).line;
    }
    const q = line.queuedBytes;
    await new Promise((r) => setTimeout(r, 1200)); // a status report that shows the line behind
    const removed = live[0]!;
    live = live.slice(1);
    const t0 = performance.now();
    await put(payments(live));
    const ms = await msUntilGone(client, TARGET, removed.name, t0);
    times.push(ms);
    console.log(
      `try ${i + 1}: removal of ${removed.name} followed after ${ms.toFixed(0)} ms, ${(q / 1024).toFixed(0)} KiB queued`,
    );
  }
  // The line's 5 s windows, from the veth's own counter (every frame, the bulk of it sync).
  const worst = largestFiveSecondWindow(rx.slice(tryFrom).map((x) => ({ t: x.t, bytes: x.rx })));
  const allowed = (BUDGET + BURST / 5) * 5 * 1.2;
  const status = (await (await fetch(`${agentUrl}/status`)).json()) as { urgent: Record<string, number> };
  const end = await regionLine();
  console.log(
    `shaped link ${values.link} Mbit/s, budget ${values.budget} (burst ${values.burst}), >= ${(BACKLOG / 1024).toFixed(0)} KiB queued: ` +
      `urgent removal p50 ${quantile(times, 0.5).toFixed(0)} ms, p99 ${quantile(times, 0.99).toFixed(0)} ms over ${TRIES}; ` +
      `largest 5 s window on the veth ${(worst / 1024).toFixed(1)} KiB against (budget + burst/5) x 5 s + 20% = ${(allowed / 1024).toFixed(1)} KiB; ` +
      `agent urgent ${JSON.stringify(status.urgent)}; ` +
      `hub --coalesce-after ${COALESCE_AFTER}: ${end.bytesSent} B published, ${end.line.coalescedRounds} rounds coalesced; ` +
      `veth received ${rx.at(-1)!.rx - rx[tryFrom]!.rx} B during the tries; load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
} finally {
  await client?.close().catch(() => undefined);
  for (const b of bridges) await b.close().catch(() => undefined);
  for (const p of procs.reverse()) await p.stop(5_000);
  link.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

/**
 * Discovery with real processes: a nats-server, the hub (in process), agents for eu-west and
 * us-east (their own processes), three gRPC backends registered at eu-west's agent with gRPC
 * health checks, and a proxyless gRPC client (@grpc/grpc-js-xds) of eu-west's agent.
 *
 *   npx tsx test/bench/discovery.ts [--tries 10] [--interval 1s] [--churn 1000] [--uplink 2KiB/s]
 *
 * 1. Local failover: a backend starts failing its check (it still answers calls); the time until
 *    eu-west's own client no longer calls it.
 * 2. Discovery → hub → other region: the same health change, until us-east's agent holds the
 *    lower healthy count of eu-west's payments (its RemoteEndpoints entry, from the hub).
 * 3. The uplink under churn: `--churn` registration changes at eu-west with the Region's
 *    uplink.budget at `--uplink`; bytes per change on fedmesh.uplink.eu-west and the largest 5 s
 *    window against the bucket's bound.
 * 4. The downlink beside a saturated uplink: the same stream of config changes for eu-west at a
 *    `--downlink` budget, once with the uplink idle and once while a registration churn keeps
 *    eu-west's uplink full; the downlink's line bytes, rate, largest 5 s window and convergence
 *    side by side (its bucket is its own: the figures should match).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseByteRate, sampleMesh } from '@fedmesh/shared';
import { connect } from '@nats-io/transport-node';
import { largestFiveSecondBurst, quantile } from '../bandwidth/support/pressure.js';
import {
  agentStatus,
  hubClient,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { type Backend, startBackend, startXdsClient } from '../xds/support.js';

const { values } = parseArgs({
  options: {
    tries: { type: 'string', default: '10' },
    interval: { type: 'string', default: '1s' },
    churn: { type: 'string', default: '1000' },
    uplink: { type: 'string', default: '2KiB/s' },
    downlink: { type: 'string', default: '32KiB/s' },
  },
});
const TRIES = Number(values.tries);
const INTERVAL = values.interval!;
const CHURN = Number(values.churn);
const UPLINK = parseByteRate(values.uplink!);
const TARGET = 'xds:///payments.shop';

const nats = await startNatsServer();
// No coalescing under throttle: part 4 compares two runs of the same deltas byte for byte.
const hub = await startTestHub(nats.url, { debounce: '100ms', maxWait: '1s', coalesceAfter: '0s' });
const api = hubClient(hub.url);
const dirs = [mkdtempSync(join(tmpdir(), 'fm-disc-eu-')), mkdtempSync(join(tmpdir(), 'fm-disc-us-'))];
const backends: Backend[] = [];
const agents: Awaited<ReturnType<typeof spawnAgent>>[] = [];
let client: Awaited<ReturnType<typeof startXdsClient>> | undefined;
try {
  for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
  const eu = await spawnAgent(nats.url, 'eu-west', dirs[0]!);
  const us = await spawnAgent(nats.url, 'us-east', dirs[1]!);
  agents.push(eu, us);
  await waitConverged(hub.url, eu.statusUrl, 'eu-west', 60_000);
  await waitConverged(hub.url, us.statusUrl, 'us-east', 60_000);
  for (const name of ['b0', 'b1', 'b2']) backends.push(await startBackend(name));
  for (const b of backends) {
    await fetch(`${eu.statusUrl}/v1/registrations/shop/payments/${b.name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        address: '127.0.0.1',
        port: b.port,
        labels: { version: 'v1' },
        check: { grpc: true },
        interval: INTERVAL,
        timeout: '500ms',
        fall: 1,
        rise: 1,
      }),
    });
  }
  client = await startXdsClient({ xdsPort: eu.xdsPort, nodeId: 'discovery-bench', region: 'eu-west' });
  await waitFor(async () => Object.keys((await client!.calls(TARGET, 60)).counts).length === 3 || undefined, {
    what: 'the client to reach the three registered backends',
    timeoutMs: 60_000,
  });
  /** eu-west's healthy count of payments as us-east's agent holds it (its RemoteEndpoints entry). */
  const remoteHealthy = async () => {
    const view = (await api.view('us-east')).body as {
      hash: string;
      resources: Record<string, { spec: { healthy: number } }>;
    };
    const held = (await agentStatus(us.statusUrl)).hash;
    return held === view.hash
      ? view.resources['RemoteEndpoints/shop/payments.eu-west']?.spec.healthy
      : undefined;
  };
  await waitFor(async () => (await remoteHealthy()) === 3 || undefined, {
    what: "us-east to hold eu-west's three healthy payments endpoints",
    timeoutMs: 60_000,
  });

  const local: number[] = [];
  const remote: number[] = [];
  for (let i = 0; i < TRIES; i++) {
    const b = backends[i % 3]!;
    const t0 = performance.now();
    b.setServing(false);
    let localMs: number | undefined;
    let remoteMs: number | undefined;
    await waitFor(
      async () => {
        if (localMs === undefined) {
          const { counts } = await client!.calls(TARGET, 20);
          if (counts[b.name] === undefined) localMs = performance.now() - t0;
        }
        if (remoteMs === undefined && (await remoteHealthy()) === 2) remoteMs = performance.now() - t0;
        return localMs !== undefined && remoteMs !== undefined ? true : undefined;
      },
      { what: `try ${i + 1}: the failure to be seen locally and in us-east`, timeoutMs: 60_000 },
    );
    local.push(localMs!);
    remote.push(remoteMs!);
    console.log(
      `try ${i + 1}: ${b.name} failing: local client off it after ${localMs!.toFixed(0)} ms, us-east after ${remoteMs!.toFixed(0)} ms`,
    );
    b.setServing(true);
    await waitFor(async () => (await remoteHealthy()) === 3 || undefined, {
      what: 'recovery',
      timeoutMs: 60_000,
    });
  }
  console.log(
    `health change (check interval ${INTERVAL}, fall 1): local failover p50 ${quantile(local, 0.5).toFixed(0)} ms, ` +
      `p99 ${quantile(local, 0.99).toFixed(0)} ms; discovery -> hub -> us-east p50 ${quantile(remote, 0.5).toFixed(0)} ms, ` +
      `p99 ${quantile(remote, 0.99).toFixed(0)} ms over ${TRIES}`,
  );

  // 3. The uplink under churn, with a budget.
  const region = sampleMesh().find((r) => r.kind === 'Region' && r.metadata.name === 'eu-west')!;
  await api.put('Region', '_', 'eu-west', {
    ...region,
    spec: { ...(region.spec as object), uplink: { budget: values.uplink } },
  });
  await waitConverged(hub.url, eu.statusUrl, 'eu-west', 60_000);
  const nc = await connect({ servers: nats.url });
  const seen: { t: number; bytes: number }[] = [];
  nc.subscribe('fedmesh.uplink.eu-west', {
    callback: (_e, m) => {
      seen.push({ t: performance.now(), bytes: Math.ceil((m.data.byteLength + 64) * 1.035) });
    },
  });
  const services = 20;
  const latest = new Map<string, string>();
  for (let i = 0; i < CHURN; i++) {
    const svc = `churn-${i % services}`;
    const id = `vm-${(i * 7) % 50}`;
    const version = `v${i}`;
    latest.set(`${svc}/${id}`, version);
    await fetch(`${eu.statusUrl}/v1/registrations/shop/${svc}/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        address: `10.88.${i % services}.${(i * 7) % 50}`,
        port: 8080,
        labels: { version },
      }),
    });
  }
  const churnStart = seen[0]?.t ?? performance.now();
  // The hub ends on the latest state of every churned service.
  await waitFor(
    async () => {
      for (let s = 0; s < services; s++) {
        const res = await api.get('ServiceEndpoints', 'shop', `churn-${s}-eu-west`);
        if (res.status !== 200) return undefined;
        const eps = (
          res.body as { spec: { endpoints: { address: string; labels?: { version?: string } }[] } }
        ).spec.endpoints;
        for (const e of eps) {
          const id = `vm-${e.address.split('.')[3]}`;
          if (latest.get(`churn-${s}/${id}`) !== e.labels?.version) return undefined;
        }
      }
      return true;
    },
    { what: 'the hub to hold the latest state of the churn', timeoutMs: 600_000 },
  );
  await nc.close();
  const total = seen.reduce((n, b) => n + b.bytes, 0);
  const largest = Math.max(...seen.map((b) => b.bytes));
  const worst = largestFiveSecondBurst(seen);
  const allowed = UPLINK * 5 + Math.max(4096, UPLINK, largest);
  console.log(
    `uplink: ${CHURN} registration changes over ${services} services at ${values.uplink}: ${seen.length} reports, ` +
      `${total} B on the line (${(total / CHURN).toFixed(1)} B per change), ${((seen.at(-1)!.t - churnStart) / 1000).toFixed(1)} s; ` +
      `largest 5 s window ${worst} B against budget x 5 s + max(bucket, largest report) = ${allowed} B (${((worst / allowed) * 100).toFixed(0)}%)`,
  );
  // 4. The downlink beside a saturated uplink.
  const DOWN = parseByteRate(values.downlink!);
  await api.put('Region', '_', 'eu-west', {
    ...region,
    spec: {
      ...(region.spec as object),
      link: { budget: values.downlink, burst: '64KiB' },
      uplink: { budget: values.uplink },
    },
  });
  await waitConverged(hub.url, eu.statusUrl, 'eu-west', 60_000);
  const euStatus = async () =>
    (await (await fetch(`${eu.statusUrl}/status`)).json()) as {
      sync: { lineBytesReceived: number };
      uplink: { waiting: string[]; bytesSent: Record<string, number> };
    };
  const frontend = sampleMesh().find((r) => r.metadata.name === 'frontend-eu-west')!;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const downlinkRun = async (saturate: boolean) => {
    let stop = false;
    let upChanges = 0;
    const upStart = { t: performance.now(), status: await euStatus() };
    const churner = saturate
      ? (async () => {
          for (let i = 0; !stop; i++) {
            await fetch(`${eu.statusUrl}/v1/registrations/shop/saturate/vm-${i % 40}`, {
              method: 'PUT',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                address: `10.99.0.${i % 40}`,
                port: 8080,
                labels: { version: `v${i}` },
              }),
            });
            upChanges++;
            await sleep(20);
          }
        })()
      : undefined;
    if (saturate) await sleep(3000); // the uplink fills first
    const samples: { t: number; bytes: number; waiting: boolean }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const s = await euStatus();
        samples.push({
          t: performance.now(),
          bytes: s.sync.lineBytesReceived,
          waiting: s.uplink.waiting.includes('detail'),
        });
        await sleep(250);
      }
    })();
    const t0 = performance.now();
    // 40 rewrites of eu-west's 400 frontend endpoints with labels that do not compress, 100 ms
    // apart: ~7 KB per delta, far more than the budget.
    for (let k = 0; k < 40; k++) {
      await api.put('ServiceEndpoints', 'shop', 'frontend-eu-west', {
        ...frontend,
        spec: {
          service: 'frontend',
          region: 'eu-west',
          endpoints: Array.from({ length: 400 }, (_, i) => ({
            address: `10.1.${Math.floor(i / 200)}.${i % 200}`,
            port: 8080,
            labels: {
              rev: createHash('sha256').update(`${saturate}-${k}-${i}`).digest('hex').slice(0, 32),
            },
          })),
        },
      });
      await sleep(100);
    }
    await waitConverged(hub.url, eu.statusUrl, 'eu-west', 300_000);
    const seconds = (performance.now() - t0) / 1000;
    sampling = false;
    await sampler;
    stop = true;
    await churner;
    const upEnd = { t: performance.now(), status: await euStatus() };
    const bytes = samples.at(-1)!.bytes - samples[0]!.bytes;
    let worst = 0;
    for (let i = 0; i < samples.length; i++)
      for (let j = i + 1; j < samples.length && samples[j]!.t - samples[i]!.t <= 5000; j++)
        worst = Math.max(worst, samples[j]!.bytes - samples[i]!.bytes);
    const upSent = (x: typeof upStart) => Object.values(x.status.uplink.bytesSent).reduce((a, b) => a + b, 0);
    const upSeconds = (upEnd.t - upStart.t) / 1000;
    return {
      seconds,
      bytes,
      rate: bytes / seconds,
      worst,
      upChanges,
      upBytes: upSent(upEnd) - upSent(upStart),
      upSeconds,
      waitingShare: samples.filter((x) => x.waiting).length / samples.length,
    };
  };
  const idle = await downlinkRun(false);
  const busy = await downlinkRun(true);
  const bound = DOWN * 5 + 64 * 1024;
  const fmt = (r: typeof idle) =>
    `${(r.bytes / 1024).toFixed(0)} KiB in ${r.seconds.toFixed(1)} s (${(r.rate / 1024).toFixed(1)} KiB/s), ` +
    `largest 5 s window ${(r.worst / 1024).toFixed(1)} KiB of ${(bound / 1024).toFixed(0)}`;
  console.log(`downlink at ${values.downlink}, uplink idle:      ${fmt(idle)}`);
  console.log(
    `downlink at ${values.downlink}, uplink saturated: ${fmt(busy)}; meanwhile ${busy.upChanges} registration changes, ` +
      `the uplink sent ${busy.upBytes} B in ${busy.upSeconds.toFixed(1)} s (budget x t + bucket = ${Math.round(UPLINK * busy.upSeconds + Math.max(4096, UPLINK))} B), ` +
      `its detail lane waiting for the bucket in ${(busy.waitingShare * 100).toFixed(0)}% of samples`,
  );
  console.log(
    `saturated / idle: time ${(busy.seconds / idle.seconds).toFixed(2)}x, downlink rate ${(busy.rate / idle.rate).toFixed(2)}x`,
  );
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
} finally {
  await client?.close().catch(() => undefined);
  for (const a of agents) await a.stop();
  await hub.stop();
  await nats.cleanup();
  await Promise.all(backends.map((b) => b.close()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

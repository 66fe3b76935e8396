/**
 * The budget on a real, shaped line. Two network namespaces joined by a veth pair shaped to
 * 2 Mbit/s with tbf; nats-server and the hub on one side, the agent on the other. The Region
 * allows config sync 32 KiB/s (burst 96 KiB). While a bulk TCP download runs over the same
 * link, first a large initial snapshot and then a backlog of deltas cross it, and:
 *  - the sync bytes crossing the veth (its interface counters, less the bulk flow's own
 *    packets) stay within budget + burst + 10% in every 5 s window;
 *  - the bulk transfer keeps at least link − budget − 10% of the link.
 * Needs root and iproute2 (`ip netns`, `tc`, `ss`); skips with the reason otherwise.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { step, waitFor } from '../support/fedmesh.js';
import { findNatsServerBinary } from '../support/nats.js';
import { applyMesh } from './support/fleet.js';
import { generateMesh, rollEndpoints } from './support/mesh.js';
import {
  type Bridge,
  bridge,
  createShapedLink,
  HELPER,
  type NsProcess,
  nsSpawn,
  type ShapedLink,
  shapedLinkUnavailable,
} from './support/netns.js';
import { allowance, kib, overBudget, pct, type Sample, utilization, windows } from './support/windows.js';

const UNAVAILABLE = shapedLinkUnavailable();
const REGION = 'eu-west';
const BUDGET = 32 * 1024;
const BURST = 96 * 1024;
const SLACK = 0.1;
/** Ethernet, IPv4 and TCP (with timestamps) headers of one segment on the veth. */
const FRAME_OVERHEAD = 14 + 20 + 32;

interface ProbeSample {
  t: number;
  rx: number;
  bulk: number;
  tcp: Record<string, { bytes: number; segs: number }>;
}

if (UNAVAILABLE) console.warn(`shaped-link test skipped: ${UNAVAILABLE}`);

describe.skipIf(UNAVAILABLE !== undefined)(
  `bandwidth on a shaped link${UNAVAILABLE ? ` (skipped: ${UNAVAILABLE})` : ''}`,
  () => {
    let link: ShapedLink;
    const procs: NsProcess[] = [];
    const bridges: Bridge[] = [];
    const dirs: string[] = [];
    let hubUrl: string;
    let agentUrl: string;
    let probe: NsProcess;
    const samples: ProbeSample[] = [];
    let mesh: ReturnType<typeof generateMesh>;

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

    beforeAll(async () => {
      try {
        await setUp();
      } catch (err) {
        for (const p of procs)
          console.error(`----- ${p.proc.spawnargs.slice(3, 5).join(' ')}\n${p.output().slice(-6000)}`);
        throw err;
      }
    }, 240_000);

    // Every step has its own bound and name: a set-up that hangs says where. The bounds catch a
    // hang; on a busy machine each step may well take several times what it takes alone.
    const setUp = async () => {
      link = await step('shaped link (namespaces, veth, tbf)', 30_000, async () => createShapedLink(2));
      const natsBin = findNatsServerBinary();
      if (!natsBin) throw new Error('no nats-server binary: run `bash deploy/ensure-nats-server.sh`');
      const natsDir = tempDir('fmbw-nats-');
      writeFileSync(
        join(natsDir, 'nats.conf'),
        `server_name: fmbw-hub\nlisten: "0.0.0.0:4222"\nhttp: "127.0.0.1:8222"\njetstream { store_dir: ${JSON.stringify(join(natsDir, 'store'))} }\n`,
      );
      await step('nats-server in the hub namespace says "Server is ready"', 40_000, () =>
        spawnIn(link.hubNs, natsBin, ['-c', join(natsDir, 'nats.conf')]).waitForOutput(
          /Server is ready/,
          40_000,
        ),
      );
      spawnIn(link.hubNs, process.execPath, [
        'hub/bin/fedmesh-hub.mjs',
        ...['--nats', 'nats://127.0.0.1:4222', '--listen', '127.0.0.1:8080'],
        ...['--debounce', '20ms', '--max-wait', '200ms', '--log-level', 'warn'],
        // No coalescing: the backlog test needs the stream to hold more than the burst, and the
        // hub otherwise coalesces a region's queue past 3 s of its budget (96 KiB here), which
        // left it just at the burst once the applies got quicker.
        ...['--coalesce-after', '0s'],
      ]);
      await step('bulk server in the hub namespace listening', 30_000, () =>
        spawnIn(link.hubNs, process.execPath, [HELPER, 'bulk-server', link.hubAddr, '5001']).waitForOutput(
          /listening/,
          30_000,
        ),
      );
      const hubSide = await step('bridge to the hub namespace', 30_000, () => bridge(link.hubNs, [8080]));
      bridges.push(hubSide);
      hubUrl = `http://127.0.0.1:${hubSide.port(8080)}`;
      const agentSide = await step('bridge to the agent namespace', 30_000, () =>
        bridge(link.agentNs, [9902]),
      );
      bridges.push(agentSide);
      agentUrl = `http://127.0.0.1:${agentSide.port(9902)}`;
      await step('hub answers /healthz through the bridge', 60_000, () =>
        waitFor(async () => (await fetch(`${hubUrl}/healthz`, { signal: AbortSignal.timeout(5_000) })).ok, {
          what: 'the hub to answer /healthz with 200',
          timeoutMs: 60_000,
        }),
      );

      probe = spawnIn(link.agentNs, process.execPath, [HELPER, 'probe', link.agentIf, '250']);
      createInterface({ input: probe.proc.stdout! }).on('line', (line) => {
        try {
          samples.push(JSON.parse(line) as ProbeSample);
        } catch {
          // not a sample
        }
      });

      mesh = generateMesh({
        services: 600,
        endpointsPerService: 60,
        link: { budget: '32KiB/s', burst: '96KiB' },
        seed: 5,
      });
      const t = Date.now();
      await step(`apply the mesh (${mesh.length} resources) through the bridge`, 120_000, () =>
        applyMesh(hubUrl, mesh),
      );
      console.log(`shaped link: set up, mesh applied in ${Date.now() - t} ms`);
    };

    afterAll(async () => {
      probe?.proc.stdin?.end();
      for (const b of bridges.splice(0)) await b.close().catch(() => undefined);
      // Agent first, then the hub, nats-server last.
      for (const p of procs.splice(0).reverse()) await p.stop(5_000);
      link?.destroy();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }, 60_000);

    const startAgent = (stateDir: string) =>
      spawnIn(link.agentNs, process.execPath, [
        'edge-agent/bin/fedmesh-agent.mjs',
        ...['--region', REGION, '--nats', `nats://${link.hubAddr}:4222`, '--state-dir', stateDir],
        ...['--xds-listen', '127.0.0.1:18000', '--status-listen', '127.0.0.1:9902'],
        ...['--heartbeat', '1s', '--log-level', 'warn'],
      ]);

    const inSync = () =>
      waitFor(
        async () => {
          const desired = (await (await fetch(`${hubUrl}/v1/regions/${REGION}`)).json()) as {
            desired: { hash: string };
          };
          const held = (await (await fetch(`${agentUrl}/status`)).json()) as { hash: string };
          return held.hash === desired.desired.hash;
        },
        { what: `${REGION} to converge over the shaped link`, timeoutMs: 90_000 },
      );

    const queueSettled = async (): Promise<number> => {
      let last = -1;
      return waitFor(
        async () => {
          const revision = ((await (await fetch(`${hubUrl}/healthz`)).json()) as { revision: number })
            .revision;
          const region = (await (await fetch(`${hubUrl}/v1/regions/${REGION}`)).json()) as {
            desired: { version: number };
            line: { queuedBytes: number };
          };
          const settled = region.desired.version === revision && region.line.queuedBytes === last && last > 0;
          last = region.line.queuedBytes;
          if (!settled) await sleep(1_000);
          return settled ? last : 0;
        },
        { what: `the hub to publish every change for ${REGION}`, timeoutMs: 60_000 },
      );
    };

    it('shaped link - a large snapshot, then a backlog of deltas, stay within budget beside a bulk transfer', async () => {
      onTestFailed(() => {
        for (const p of procs)
          console.error(`----- ${p.proc.spawnargs.slice(3, 5).join(' ')}\n${p.output().slice(-6000)}`);
      });
      // The link alone: what a bulk download gets with nothing else on it.
      probe.proc.stdin!.write(`bulk ${link.hubAddr} 5001\n`);
      await sleep(5_000);
      const bulkAlone = bulkMedianRate(samples, Date.now() - 3_000, Date.now());

      const stateDir = tempDir('fmbw-agent-');
      const phases: { name: string; from: number; to: number }[] = [];
      let agent = startAgent(stateDir);
      let from = Date.now();
      await inSync();
      phases.push({ name: 'initial snapshot', from, to: Date.now() });

      // A backlog of deltas: the agent is away while 40 rolling restarts of 10 services land.
      await agent.stop();
      const endpoints = mesh.filter((r) => r.kind === 'ServiceEndpoints' && r.spec.region === REGION);
      for (let i = 0; i < 40; i++) {
        await applyMesh(
          hubUrl,
          endpoints.slice(i * 10, i * 10 + 10).map((r, j) => rollEndpoints(r, 5000 + i * 10 + j)),
        );
      }
      // Every change on the stream before the agent comes back: the hub has processed the last
      // write and its queue for the region has stopped growing.
      const queued = await queueSettled();
      console.log(`shaped link: the backlog queued ${queued} B for ${REGION}`);
      agent = startAgent(stateDir);
      from = Date.now();
      await inSync();
      phases.push({ name: 'delta backlog', from, to: Date.now() });
      const status = (await (await fetch(`${agentUrl}/status`)).json()) as {
        line: { budget: { bytesPerSecond: number; burstBytes: number; source: string } };
      };
      await sleep(500);
      probe.proc.stdin!.write('stop\n');

      expect(status.line.budget).toMatchObject({
        bytesPerSecond: BUDGET,
        burstBytes: BURST,
        source: 'region',
      });
      expect(queued).toBeGreaterThan(2 * BURST);
      // Sync bytes on the veth: everything the agent side received, less the bulk flow's packets.
      const sync: Sample[] = samples.map((s) => ({
        t: s.t,
        bytes: s.rx - ((s.tcp['5001']?.bytes ?? 0) + (s.tcp['5001']?.segs ?? 0) * FRAME_OVERHEAD),
      }));
      // Cross-check: the agent's own connection, as its socket counts it (restarts with the agent).
      const socket: Sample[] = samples.map((s) => ({
        t: s.t,
        bytes: (s.tcp['4222']?.bytes ?? 0) + (s.tcp['4222']?.segs ?? 0) * FRAME_OVERHEAD,
      }));
      for (const phase of phases) {
        const inPhase = sync.filter((s) => s.t >= phase.from && s.t <= phase.to);
        const ws = windows(inPhase, 5_000);
        const own = socket.filter((s) => s.t >= phase.from && s.t <= phase.to && s.bytes > 0);
        // The transfer starts with the agent's first kilobytes, not with its process.
        const first = own.find((s) => s.bytes > own[0]!.bytes + 16 * 1024);
        const ownBytes = own.at(-1)!.bytes - own[0]!.bytes;
        const ownUse = utilization(windows(own, 5_000, first?.t ?? phase.from), BUDGET);
        const active = windows(inPhase, 5_000, first?.t ?? phase.from);
        const use = utilization(active, BUDGET);
        const bytes = inPhase.at(-1)!.bytes - inPhase[0]!.bytes;
        const secs = (phase.to - (first?.t ?? phase.from)) / 1000;
        const bulk = bulkRate(samples, first?.t ?? phase.from, phase.to);
        const bulkL2 = bulkRate(samples, first?.t ?? phase.from, phase.to, FRAME_OVERHEAD);
        console.log(
          `shaped link, ${phase.name}: ${kib(bytes)} on the veth in ${secs.toFixed(1)}s from the first byte` +
            ` (physical limit at the budget ${(Math.max(0, bytes - BURST) / BUDGET).toFixed(1)}s after the burst);` +
            ` ${ws.length} windows, utilization max ${pct(use.max)} mean ${pct(use.mean)};` +
            ` worst window ${kib(use.worst?.bytes ?? 0)} of ${kib(allowance(5000, BUDGET, BURST, SLACK))} allowed;` +
            ` bulk ${(bulk / 1000).toFixed(1)} kB/s (${(bulkL2 / 1000).toFixed(1)} kB/s on the wire) beside it,` +
            ` ${(bulkAlone / 1000).toFixed(1)} kB/s alone, link ${(link.bytesPerSecond / 1000).toFixed(0)} kB/s;` +
            ` the agent's socket: ${kib(ownBytes)}, utilization max ${pct(ownUse.max)} mean ${pct(ownUse.mean)}`,
        );
        expect(ws.length, phase.name).toBeGreaterThan(1);
        expect(overBudget(ws, BUDGET, BURST, SLACK), phase.name).toEqual([]);
        // The link as shaped, in the same (Ethernet) terms as the bulk flow's share of it.
        expect(bulkL2, phase.name).toBeGreaterThanOrEqual(
          link.bytesPerSecond - BUDGET - 0.1 * link.bytesPerSecond,
        );
      }
    }, 240_000);
  },
);

/**
 * Bytes per second of the bulk download between two times, as its socket received them (the
 * kernel's count: the probe's own reads may lag behind it).
 */
function bulkRate(samples: readonly ProbeSample[], from: number, to: number, perSegment = 0): number {
  const inside = samples.filter((s) => s.t >= from && s.t <= to && s.tcp['5001']);
  if (inside.length < 2) return 0;
  const bytes = (s: ProbeSample) => s.tcp['5001']!.bytes + s.tcp['5001']!.segs * perSegment;
  const a = inside[0]!;
  const b = inside.at(-1)!;
  return ((bytes(b) - bytes(a)) / (b.t - a.t)) * 1000;
}

/** The bulk download's median rate over sample intervals: robust to one interval the probe skewed. */
function bulkMedianRate(samples: readonly ProbeSample[], from: number, to: number): number {
  const inside = samples.filter((s) => s.t >= from && s.t <= to && s.tcp['5001']);
  const rates = inside
    .slice(1)
    .map((s, i) => ((s.tcp['5001']!.bytes - inside[i]!.tcp['5001']!.bytes) / (s.t - inside[i]!.t)) * 1000)
    .sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] ?? 0;
}

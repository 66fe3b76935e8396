/**
 * The fault loop: one fault at a time, each healed (the process restarted or continued, the
 * server back and current in its cluster) before the next. Never two NATS nodes at once: a
 * restarted member must report itself healthy (caught up with its streams) before the next
 * fault, or killing another would take a stream's quorum with it.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { waitForJetStream } from '../support/nats.js';
import type { ManagedProcess } from './procs.js';
import { type ChaosWorld, LEAF_REGION } from './world.js';

export const FaultKind = {
  /** kill -9 of a hub, restarted. */
  HubKill: 'hub-kill',
  /** SIGSTOP of a hub for longer than the cluster keeps a silent client, then SIGCONT. */
  HubPause: 'hub-pause',
  /** kill -9 of an agent, restarted on its state dir. */
  AgentKill: 'agent-kill',
  /** kill -9 of one cluster member, restarted on its store. */
  NatsKill: 'nats-kill',
  /** kill -9 of one cluster member, and a hub restarted while it is down. */
  HubStartNatsDown: 'hub-start-nats-down',
  /** kill -9 of the leaf node in front of the leaf region's agent, restarted. */
  LeafKill: 'leaf-kill',
  /**
   * The leaf region's agent starts afresh (kill -9, its state dir emptied: a new machine), and
   * its leaf node is killed while the first snapshot is on its way (chunks spooled, not all).
   */
  LeafKillMidSnapshot: 'leaf-kill-mid-snapshot',
  /**
   * The tmpfs under one member's store filled to the last byte, then emptied. (No read-only
   * variant: the kernel refuses `remount,ro` while nats-server holds its files open for writing,
   * and a server started on a read-only store exits at once, which is a nats-kill.)
   */
  DiskFull: 'disk-full',
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];

const WEIGHTS: Record<FaultKind, number> = {
  'hub-kill': 3,
  'hub-pause': 2,
  'agent-kill': 3,
  'nats-kill': 3,
  'hub-start-nats-down': 1,
  'leaf-kill': 2,
  'leaf-kill-mid-snapshot': 1,
  'disk-full': 1,
};

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  /** From the injection until healed (everything ready again). */
  ms: number;
  /** Anything worth saying: a disk fault that needed a restart to heal, say. */
  note?: string;
}

export interface FaultLoopOptions {
  faults: number;
  /** Only these kinds (default: all the world supports). */
  kinds?: readonly FaultKind[];
  random: () => number;
  /** How long a paused hub stays stopped; longer than the cluster's 2 × 2 s ping. */
  pauseMs: number;
  /** Churn between a heal and the next fault. */
  gapMs: [number, number];
  log: (line: string) => void;
  /** Stop early (a failed heal). */
  signal?: AbortSignal;
}

export interface FaultLoopResult {
  records: FaultRecord[];
  /** A fault that could not be healed: the loop stopped there. */
  failure?: string;
  /** When the last heal finished (ms since the epoch). */
  lastHealAt: number;
}

export async function runFaults(world: ChaosWorld, opts: FaultLoopOptions): Promise<FaultLoopResult> {
  const kinds = (Object.keys(WEIGHTS) as FaultKind[]).filter(
    (k) => (world.tmpfs || k !== FaultKind.DiskFull) && (!opts.kinds || opts.kinds.includes(k)),
  );
  const between = ([lo, hi]: [number, number]) => lo + Math.floor(opts.random() * (hi - lo));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(opts.random() * xs.length)]!;
  // Every kind once, in a random order, then by weight: a short run still sees each of them.
  const order = [...kinds].sort(() => opts.random() - 0.5);
  const total = kinds.reduce((n, k) => n + WEIGHTS[k], 0);
  const weighted = (): FaultKind => {
    let r = opts.random() * total;
    for (const k of kinds) {
      r -= WEIGHTS[k];
      if (r < 0) return k;
    }
    return kinds.at(-1)!;
  };

  const records: FaultRecord[] = [];
  let lastHealAt = Date.now();
  for (let f = 0; f < opts.faults; f++) {
    if (opts.signal?.aborted) break;
    const kind = order[f] ?? weighted();
    await Promise.all([...world.hubs, ...world.agents].map((p) => p.settled()));
    const started = Date.now();
    let rec: Awaited<ReturnType<typeof inject>>;
    try {
      rec = await inject(world, kind, { between, pick, pauseMs: opts.pauseMs });
    } catch (err) {
      const failure = `fault ${f + 1} (${kind}) did not heal: ${(err as Error).message}`;
      opts.log(failure);
      return { records, failure, lastHealAt: Date.now() };
    }
    lastHealAt = Date.now();
    records.push({ kind, ...rec, ms: lastHealAt - started });
    opts.log(
      `${new Date(started).toISOString()} fault ${f + 1}/${opts.faults} ${kind} ${rec.target}: healed in ${lastHealAt - started} ms${rec.note ? ` (${rec.note})` : ''}`,
    );
    if (f < opts.faults - 1) await sleep(between(opts.gapMs));
  }
  return { records, lastHealAt };
}

interface Dice {
  between(range: [number, number]): number;
  pick<T>(xs: readonly T[]): T;
  pauseMs: number;
}

async function inject(
  world: ChaosWorld,
  kind: FaultKind,
  dice: Dice,
): Promise<{ target: string; note?: string }> {
  const { between, pick } = dice;
  switch (kind) {
    case FaultKind.HubKill: {
      const hub = pick(world.hubs);
      await hub.kill9();
      await sleep(between([300, 1_500]));
      await hub.start();
      return { target: hub.name };
    }
    case FaultKind.HubPause: {
      const hub = pick(world.hubs);
      hub.pause();
      await sleep(dice.pauseMs);
      hub.resume();
      await hub.waitReady(60_000);
      return { target: hub.name };
    }
    case FaultKind.AgentKill: {
      const agent = pick(world.agents);
      await agent.kill9();
      await sleep(between([300, 1_500]));
      await agent.start();
      return { target: agent.name };
    }
    case FaultKind.NatsKill: {
      const i = between([0, world.cluster.servers.length]);
      const server = world.cluster.servers[i]!;
      await server.kill();
      await sleep(between([500, 2_500]));
      await server.restart();
      await clusterHealthy(world);
      return { target: server.name };
    }
    case FaultKind.HubStartNatsDown: {
      const server = pick(world.cluster.servers);
      const hub = pick(world.hubs);
      await server.kill();
      await sleep(300);
      await hub.kill9();
      const starting = hub.start();
      // A hub must come up on the two members left; give it a while before the third returns.
      const upFirst = await Promise.race([starting.then(() => true), sleep(8_000, false)]);
      await server.restart();
      await clusterHealthy(world);
      await starting;
      await readyAfterSupervisor(hub);
      return {
        target: `${server.name} + ${hub.name}`,
        note: upFirst ? 'hub ready before the node returned' : 'hub ready only after the node returned',
      };
    }
    case FaultKind.LeafKill: {
      await world.leaf.kill();
      await sleep(between([500, 2_000]));
      await world.leaf.restart();
      await waitForJetStream(world.leaf.url, { domain: 'hub', timeoutMs: 60_000 });
      return { target: `leaf ${LEAF_REGION}` };
    }
    case FaultKind.LeafKillMidSnapshot: {
      const agent = world.agents.find((a) => a.region === LEAF_REGION)!;
      await agent.kill9();
      for (const f of readdirSync(agent.stateDir))
        rmSync(join(agent.stateDir, f), { recursive: true, force: true });
      await agent.start();
      const mid = await spooling(agent.url, 15_000);
      await world.leaf.kill();
      await sleep(between([500, 1_500]));
      await world.leaf.restart();
      await waitForJetStream(world.leaf.url, { domain: 'hub', timeoutMs: 60_000 });
      return {
        target: `leaf ${LEAF_REGION}`,
        note: mid ? `killed with ${mid} of the snapshot spooled` : 'the snapshot was not seen in flight',
      };
    }
    case FaultKind.DiskFull: {
      const tmpfs = world.tmpfs!;
      const server = world.cluster.servers[tmpfs.member]!;
      let note = `filled with ${(tmpfs.fill() / 2 ** 20).toFixed(0)} MiB`;
      await sleep(between([2_000, 4_000]));
      tmpfs.unfill();
      // Does the cluster recover by itself once the disk has room again? Else an operator
      // restarts the member that had the full disk.
      const byItself = await clusterHealthy(world, 10_000).then(
        () => true,
        () => false,
      );
      if (byItself) note += '; recovered by itself';
      else {
        await server.restart();
        const afterRestart = await clusterHealthy(world, 30_000).then(
          () => true,
          () => false,
        );
        if (afterRestart) note += '; the cluster recovered only once the member was restarted';
        else {
          // Some writes of the member failed half-way: its replicas do not catch up. What an
          // operator does then: a new disk, the member re-synced from its peers.
          await server.stop();
          tmpfs.wipe();
          await server.restart();
          await clusterHealthy(world);
          note +=
            "; the member's replicas did not catch up after a restart: its store was wiped and re-synced";
        }
      }
      return { target: server.name, note };
    }
  }
}

/** Waits until the agent is part-way through a chunked transfer; `chunks/count`, or undefined. */
async function spooling(statusUrl: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${statusUrl}/status`, { signal: AbortSignal.timeout(2_000) });
      const { line } = (await res.json()) as { line?: { spool?: { chunks: number; count: number } | null } };
      const spool = line?.spool;
      if (spool && spool.chunks > 0 && spool.chunks < spool.count)
        return `${spool.chunks}/${spool.count} chunks`;
    } catch {
      // starting
    }
    await sleep(50);
  }
  return undefined;
}

/** A supervised process that died while starting is being restarted: wait for that too. */
async function readyAfterSupervisor(p: ManagedProcess): Promise<void> {
  await p.settled();
  await p.waitReady(90_000);
}

/**
 * Healed: every member is current with the meta leader, and every stream has a leader and all its
 * replicas current. Not the members' full `/healthz`: it also wants every consumer current, and
 * agents delete and recreate their consumers whenever they resync, so 2.9 reports some consumer
 * "not current" for long stretches (the lingering raft group of one deleted while a member was
 * away), which is no stream's quorum at risk.
 */
export async function clusterHealthy(world: ChaosWorld, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const results = await Promise.all(world.cluster.servers.map((s) => healthy(s.monitorUrl, timeoutMs)));
  const sick = world.cluster.servers.filter((_, i) => !results[i]).map((s) => s.name);
  if (sick.length > 0)
    throw new Error(`cluster members not current after ${timeoutMs} ms: ${sick.join(', ')}`);
  let lagging: string[] = [];
  while (Date.now() < deadline) {
    lagging = await streamsLagging(world.cluster.urls).catch((err) => [`(${(err as Error).message})`]);
    if (lagging.length === 0) return;
    await sleep(200);
  }
  throw new Error(`streams not fully replicated after ${timeoutMs} ms: ${lagging.join(', ')}`);
}

async function streamsLagging(urls: string[]): Promise<string[]> {
  const nc = await connect({ servers: urls, timeout: 2_000, reconnect: false });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 3_000 });
    const out: string[] = [];
    for await (const si of jsm.streams.list()) {
      const replicas = si.cluster?.replicas ?? [];
      const want = si.config.num_replicas - 1;
      const current = replicas.filter((r) => r.current && !r.offline).length;
      if (!si.cluster?.leader || current < want)
        out.push(`${si.config.name} (${current}/${want} followers current)`);
    }
    return out;
  } finally {
    await nc.close();
  }
}

async function healthy(monitorUrl: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${monitorUrl}/healthz?js-server-only=true`, {
        signal: AbortSignal.timeout(2_000),
      });
      const body = (await res.json()) as { status?: string };
      if (res.ok && body.status === 'ok') return true;
    } catch {
      // not up yet
    }
    await sleep(200);
  }
  return false;
}

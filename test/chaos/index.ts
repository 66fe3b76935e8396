/**
 * A chaos run: the topology of world.ts, the churn of churn.ts, the fault loop of faults.ts and,
 * at the end, the invariants of checks.ts. Used by `npm run chaos` (main.ts) and by the short
 * run in `npm test` (chaos.test.ts).
 */
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { prng } from '../bandwidth/support/mesh.js';
import {
  dumpStreams,
  findLostWrites,
  type LostWrites,
  versionsWithTwoHashes,
  waitForConvergence,
} from './checks.js';
import { type ChurnStats, startChurn } from './churn.js';
import { type FaultKind, type FaultRecord, runFaults } from './faults.js';
import type { OwnExit } from './procs.js';
import { startChaosWorld } from './world.js';

export interface ChaosOptions {
  faults: number;
  /** Only these kinds of fault. */
  kinds?: readonly FaultKind[];
  seed: number;
  /** How long a paused hub stays stopped. */
  pauseMs?: number;
  /** Churn between faults, in ms. */
  gapMs?: [number, number];
  /** How long the convergence check waits after the last heal before giving up. */
  convergeTimeoutMs?: number;
  tmpfs?: boolean;
  logDir?: string;
  logLevel?: string;
  log?: (line: string) => void;
}

export interface ChaosReport {
  seed: number;
  faultsByKind: Partial<Record<FaultKind, number>>;
  faults: FaultRecord[];
  /** A fault that did not heal (the loop stopped there). */
  healFailure: string | undefined;
  churn: ChurnStats;
  store: LostWrites;
  /** From the last heal until every agent held the hub's view; undefined: never within the bound. */
  convergedAfterMs: number | undefined;
  /** The same, per region. */
  regionConvergedAfterMs: Record<string, number>;
  convergence: Awaited<ReturnType<typeof waitForConvergence>>['last'];
  /** What each agent's sync did over the run (its counters since its last start). */
  agentSync: Record<string, AgentCounters | { error: string }>;
  /** When they did not converge: every agent's /status and every hub's region summary. */
  diagnostics?: Record<string, unknown>;
  stream: { messages: number; twoHashes: string[] };
  hubOwnExits: OwnExit[];
  agentOwnExits: OwnExit[];
  tmpfsSkipped: string | undefined;
  loadavg: { start: number[]; end: number[] };
  durationMs: number;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? (() => undefined);
  const started = Date.now();
  const load0 = loadavg();
  const random = prng(opts.seed);
  const world = await startChaosWorld({
    tmpfs: opts.tmpfs ?? true,
    ...(opts.logDir ? { logDir: opts.logDir } : {}),
    ...(opts.logLevel ? { logLevel: opts.logLevel } : {}),
  });
  try {
    log(`chaos: world up in ${Date.now() - started} ms (${world.dir})`);
    if (world.tmpfsSkipped) log(`chaos: no tmpfs store: ${world.tmpfsSkipped}`);
    const probes = world.agents.map((a) => ({ region: a.region, statusUrl: a.url }));
    const hubUrls = world.hubs.map((h) => h.url);
    const first = await waitForConvergence(hubUrls, probes, 60_000);
    if (first.ms === undefined)
      throw new Error(`agents never converged at the start: ${JSON.stringify(first.last)}`);

    const churn = startChurn({ hubUrls, endpoints: world.endpoints, random });
    let result: Awaited<ReturnType<typeof runFaults>>;
    try {
      result = await runFaults(world, {
        faults: opts.faults,
        ...(opts.kinds ? { kinds: opts.kinds } : {}),
        random,
        pauseMs: opts.pauseMs ?? 10_000,
        gapMs: opts.gapMs ?? [1_000, 2_500],
        log,
      });
    } finally {
      await churn.stop();
    }
    const converged = await waitForConvergence(hubUrls, probes, opts.convergeTimeoutMs ?? 60_000);
    const convergedAfterMs = converged.at === undefined ? undefined : converged.at - result.lastHealAt;
    const regionConvergedAfterMs = Object.fromEntries(
      Object.entries(converged.regionAt).map(([r, at]) => [r, at - result.lastHealAt]),
    );
    log(`chaos: converged ${convergedAfterMs ?? 'never'} ms after the last heal`);
    const diagnostics = converged.at === undefined ? await diagnose(hubUrls, probes) : undefined;
    const agentSync = await agentCounters(probes);
    // A check that cannot run (a cluster that never healed) is a failed run, with its reason.
    const store = await findLostWrites(hubUrls[0]!, churn.ledger()).catch(
      (err): LostWrites => ({
        checked: 0,
        lost: [`cannot check: ${(err as Error).message}`],
        landedInDoubt: 0,
      }),
    );
    const stream = await versionsWithTwoHashes(world.cluster.urls).catch((err) => ({
      messages: 0,
      twoHashes: [`cannot read the stream: ${(err as Error).message}`],
    }));
    if (stream.twoHashes.length > 0 && opts.logDir) {
      await dumpStreams(world.cluster.urls, join(opts.logDir, 'streams.json')).catch((err) =>
        log(`chaos: cannot dump the streams: ${(err as Error).message}`),
      );
    }
    const faultsByKind: ChaosReport['faultsByKind'] = {};
    for (const r of result.records) faultsByKind[r.kind] = (faultsByKind[r.kind] ?? 0) + 1;
    return {
      seed: opts.seed,
      faultsByKind,
      faults: result.records,
      healFailure: result.failure,
      churn: churn.stats,
      store,
      convergedAfterMs,
      regionConvergedAfterMs,
      convergence: converged.last,
      ...(diagnostics ? { diagnostics } : {}),
      agentSync,
      stream,
      hubOwnExits: world.hubs.flatMap((h) => h.ownExits),
      agentOwnExits: world.agents.flatMap((a) => a.ownExits),
      tmpfsSkipped: world.tmpfsSkipped,
      loadavg: { start: load0, end: loadavg() },
      durationMs: Date.now() - started,
    };
  } finally {
    await world.close();
  }
}

/** The figures of a report, as the runner prints them. */
export function summarize(r: ChaosReport): string {
  const kinds = Object.entries(r.faultsByKind)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
  const la = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  return [
    `seed ${r.seed}; ${r.faults.length} faults: ${kinds}`,
    ...(r.healFailure ? [`HEAL FAILED: ${r.healFailure}`] : []),
    `writes: ${r.churn.attempted} attempted, ${r.churn.acknowledged} acknowledged (hub-a ${r.churn.byHub[0]}, hub-b ${r.churn.byHub[1]}), ${r.churn.refused} refused by a precondition${
      r.churn.refused
        ? ` (${Object.entries(r.churn.refusedBy)
            .map(([c, n]) => `${n} x ${c}`)
            .join(', ')})`
        : ''
    }, ${r.churn.unknown} without an answer, ${r.churn.invalid} invalid`,
    `store: ${r.store.checked} keys checked, ${r.store.lost.length} lost acknowledged writes, ${r.store.landedInDoubt} keys hold a write whose answer was lost`,
    `convergence: ${r.convergedAfterMs === undefined ? 'NOT converged' : `${(r.convergedAfterMs / 1000).toFixed(1)} s`} after the last heal (${Object.entries(
      r.regionConvergedAfterMs,
    )
      .map(([region, ms]) => `${region} ${(ms / 1000).toFixed(1)} s`)
      .join(', ')})`,
    `stream: ${r.stream.messages} messages, ${r.stream.twoHashes.length} (region, version) pairs with two hashes`,
    `exits on their own: hubs ${r.hubOwnExits.length}, agents ${r.agentOwnExits.length}`,
    `agents since their last start: ${Object.entries(r.agentSync)
      .map(
        ([region, c]) =>
          `${region} ${'error' in c ? c.error : `applied ${c.applied}, rejected ${c.rejected}, resyncs ${c.resyncs}, resumed transfers ${c.resumes}, catch-ups ${c.catchUps}`}`,
      )
      .join('; ')}`,
    ...(r.tmpfsSkipped ? [`disk faults skipped: ${r.tmpfsSkipped}`] : []),
    `load average: ${la(r.loadavg.start)} at the start, ${la(r.loadavg.end)} at the end; ${(r.durationMs / 1000).toFixed(0)} s in all`,
  ].join('\n');
}

export interface AgentCounters {
  applied: number;
  rejected: number;
  resyncs: number;
  resumes: number;
  catchUps: number;
}

async function agentCounters(
  probes: readonly { region: string; statusUrl: string }[],
): Promise<ChaosReport['agentSync']> {
  const out: ChaosReport['agentSync'] = {};
  for (const p of probes) {
    try {
      const s = (await (
        await fetch(`${p.statusUrl}/status`, { signal: AbortSignal.timeout(3_000) })
      ).json()) as {
        sync: AgentCounters;
      };
      const { applied, rejected, resyncs, resumes, catchUps } = s.sync;
      out[p.region] = { applied, rejected, resyncs, resumes, catchUps };
    } catch (err) {
      out[p.region] = { error: (err as Error).message };
    }
  }
  return out;
}

/** What each side says of each region, for a run that did not converge. */
async function diagnose(
  hubUrls: readonly string[],
  probes: readonly { region: string; statusUrl: string }[],
): Promise<Record<string, unknown>> {
  const get = async (url: string) => {
    try {
      return await (await fetch(url, { signal: AbortSignal.timeout(3_000) })).json();
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  const out: Record<string, unknown> = {};
  for (const p of probes) {
    out[p.region] = {
      agent: await get(`${p.statusUrl}/status`),
      hubs: await Promise.all(hubUrls.map((h) => get(`${h}/v1/regions/${p.region}`))),
    };
  }
  return out;
}

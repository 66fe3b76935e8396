/**
 * Live mode: a real nats-server, the hub (in process, the hub's default debounce), and one agent
 * process per region through its bin, fed the same generator's mesh and churn over the admin API.
 *
 * - Convergence per change: from the moment the driver sends the change to the hub until every
 *   region whose view it alters reports (agent `GET /status`) the hash the driver expects. The
 *   expected hash comes from the driver's own incremental scoper fed the same changes, so nothing
 *   waits on the hub to say what it meant; at the end the hub's views are checked against it.
 * - Bytes per region: the agent's `sync.bytesReceived` (payload + NATS headers of sync messages),
 *   the server's `/connz` `out_bytes` to the agent's connection (everything NATS sent it: sync
 *   messages with their JetStream reply subjects, pull and API replies), the hub's `bytesSent`,
 *   and what model mode predicts for the same changes.
 * - Budget: a token-bucket envelope check (bytes in any window <= burst + budget × window) over the
 *   agents' byte counters, and a probe that squeezes one region's budget and makes its agent take
 *   a fresh snapshot, so the figure says whether the line is paced, not just that traffic was small.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseByteRate, parseByteSize, type Resource, type ResourceOf } from '@fedmesh/shared';
import { type AgentProcess, hubClient, removeDir, spawnAgent, startTestHub } from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';
import { type EncodeConfig, fedmeshStep, loadScoper } from './pipeline.js';
import { round, type Summary, sum, summarize } from './stats.js';
import { type ChangeKind, type ChurnMix, createRng, createWorkload, type Write } from './workload.js';

export interface LiveConfig {
  services: number;
  regions: number;
  seed: number;
  changes: number;
  mix: ChurnMix;
  /** The hub's debounce and max wait (its defaults: Istio's PILOT_DEBOUNCE_AFTER, 1 s). */
  debounce: string;
  maxWait: string;
  pollMs: number;
  changeTimeoutMs: number;
  encode: EncodeConfig;
}

export interface LiveRegionFigures {
  region: string;
  viewResources: number;
  initialSnapshotBytes: number;
  /** During the churn phase. */
  agentBytes: number;
  connzOutBytes: number | null;
  hubBytesSent: number;
  predictedWireBytes: number;
  changesReceived: number;
  budgetBytesPerSecond: number | null;
  burstBytes: number | null;
  /** Highest byte rate over any ~1 s window of the agent's counter samples (whole run). */
  peakRate1s: number;
  /** Largest (bytes in a window) / (burst + budget × window) seen: <= 1 means inside the budget. */
  envelopeRatio: number | null;
}

export interface LiveResult {
  config: Omit<LiveConfig, 'encode' | 'mix'> & { mix: ChurnMix };
  resources: number;
  agents: 'processes';
  /** Spawning the agent processes until each answers on its status port (mostly tsx start-up). */
  agentStartSeconds: number;
  /** From then until every agent holds the hub's view (snapshot request, publication, apply). */
  initialSyncSeconds: number;
  convergenceMs: Summary;
  convergencePerRegionMs: Summary;
  convergenceByKind: Partial<Record<ChangeKind, Summary>>;
  timeouts: number;
  regionsPerChange: Summary;
  bytesPerRegionPerChange: { agent: number; connz: number | null; predicted: number };
  /**
   * Per (region, change that altered the region's view), from the agents' counters: line bytes,
   * payload bytes, the rest (framing: envelope, headers, HMSG line and ack subject), and sync
   * messages. A message that carries several changes (the debounce merged them) amortizes its
   * framing over them.
   */
  perRegionChange: { lineBytes: number; payloadBytes: number; framingBytes: number; messages: number };
  /** Agent-counted bytes over model-predicted bytes, all regions: how well model mode predicts the line. */
  measuredOverModel: number;
  regions: LiveRegionFigures[];
  hubViewsMatch: boolean;
  pacing: {
    /** Whether the agents' status says they enforce a budget (fields such as budgetBytesPerSecond). */
    reportedByAgent: boolean;
    probe: {
      region: string;
      budgetBytesPerSecond: number;
      burstBytes: number;
      changes: number;
      /** Bytes the agent counted during the probe. */
      bytes: number;
      /** How long the driver took to send the changes, and until the agent held the last one. */
      sentSeconds: number;
      seconds: number;
      converged: boolean;
      /** Largest probe message, payload and headers: the one message a bucket cannot hold back. */
      largestMessage: number;
      /** Seconds a line held to the budget needs at least: (bytes - burst) / budget. */
      pacedSecondsAtLeast: number;
      observedRate: number;
      /** Against the squeezed Region budget and burst (plus one message). */
      envelopeRatio: number;
      adhered: boolean;
      /** The budget the agent reports enforcing (it may widen the burst, e.g. to its largest message). */
      agentBudget: { bytesPerSecond: number; burstBytes: number } | null;
      agentEnvelopeRatio: number | null;
    } | null;
    verdict: string;
  };
  seconds: number;
}

interface Sample {
  t: number;
  bytes: number;
}

export async function runLive(cfg: LiveConfig, log: (line: string) => void): Promise<LiveResult> {
  const started = performance.now();
  const w = createWorkload({ services: cfg.services, regions: cfg.regions, seed: cfg.seed, mix: cfg.mix });
  const local = loadScoper(w.initial);
  const nats = await startNatsServer();
  const cleanups: (() => Promise<unknown>)[] = [() => nats.cleanup()];
  const agents = new Map<string, AgentProcess>();
  const samples = new Map<string, Sample[]>(w.regionNames.map((r) => [r, []]));
  let sampling = true;
  let sampler: Promise<void> | undefined;
  try {
    const hub = await startTestHub(nats.url, { debounce: cfg.debounce, maxWait: cfg.maxWait });
    cleanups.unshift(() => hub.stop());
    const api = hubClient(hub.url);
    log(`live: nats ${nats.url}, hub ${hub.url}; applying ${w.initial.length} resources`);
    for (let i = 0; i < w.initial.length; i += 250) {
      const res = await api.call('POST', '/v1/apply', w.initial.slice(i, i + 250));
      if (res.status !== 200)
        throw new Error(`apply failed (${res.status}): ${JSON.stringify(res.body).slice(0, 2000)}`);
    }

    // Agents start after the mesh is in: each begins with a snapshot, which is the initial sync.
    const spawnStart = performance.now();
    const spawned = await Promise.all(
      w.regionNames.map(async (region) => {
        const dir = await mkdtemp(join(tmpdir(), `fedmesh-bench-${region}-`));
        const agent = await spawnAgent(nats.url, region, dir, ['--log-level', 'warn']);
        cleanups.unshift(async () => {
          await agent.stop();
          removeDir(dir);
        });
        return agent;
      }),
    );
    for (const a of spawned) agents.set(a.region, a);
    const agentStartSeconds = (performance.now() - spawnStart) / 1000;
    const t0 = performance.now();
    sampler = (async () => {
      while (sampling) {
        await Promise.all(
          [...agents].map(async ([region, a]) => {
            const s = await agentStatus(a).catch(() => undefined);
            if (s) samples.get(region)!.push({ t: performance.now(), bytes: s.sync.bytesReceived });
          }),
        );
        await sleep(100);
      }
    })();
    await Promise.all(w.regionNames.map((r) => waitHash(agents.get(r)!, local.hash(r)!, 60_000, cfg.pollMs)));
    const initialSyncSeconds = (performance.now() - t0) / 1000;
    const initialStatus = new Map(
      await Promise.all(w.regionNames.map(async (r) => [r, await agentStatus(agents.get(r)!)] as const)),
    );
    log(`live: ${w.regionNames.length} agents in sync after ${initialSyncSeconds.toFixed(1)} s`);
    const connzBefore = await connz(nats.monitorUrl);
    const hubBefore = await hubSent(api, w.regionNames);

    const versions = new Map<string, number>();
    let revision = w.initial.length;
    const predicted = new Map<string, number>(w.regionNames.map((r) => [r, 0]));
    const received = new Map<string, number>(w.regionNames.map((r) => [r, 0]));
    const perChange: number[] = [];
    const perRegion: number[] = [];
    const touched: number[] = [];
    const byKind = new Map<ChangeKind, number[]>();
    let timeouts = 0;
    for (let i = 0; i < cfg.changes; i++) {
      const c = w.nextChange();
      const step = await fedmeshStep(local, c.writes, versions, ++revision, cfg.encode);
      for (const [r, x] of step.regions) {
        predicted.set(r, predicted.get(r)! + x.wireBytes);
        received.set(r, received.get(r)! + 1);
      }
      touched.push(step.regions.size);
      const sent = performance.now();
      await send(api, c.writes);
      if (step.regions.size === 0) continue;
      const times = await Promise.all(
        [...step.regions.keys()].map((r) =>
          waitHash(agents.get(r)!, local.hash(r)!, cfg.changeTimeoutMs, cfg.pollMs).then(
            () => performance.now() - sent,
            () => undefined,
          ),
        ),
      );
      if (times.some((t) => t === undefined)) {
        timeouts++;
        continue;
      }
      const worst = Math.max(...(times as number[]));
      perChange.push(worst);
      perRegion.push(...(times as number[]));
      byKind.set(c.kind, [...(byKind.get(c.kind) ?? []), worst]);
    }
    log(`live: ${cfg.changes} changes, ${timeouts} timed out`);

    const finalStatus = new Map(
      await Promise.all(w.regionNames.map(async (r) => [r, await agentStatus(agents.get(r)!)] as const)),
    );
    const connzAfter = await connz(nats.monitorUrl);
    const hubAfter = await hubSent(api, w.regionNames);
    let hubViewsMatch = true;
    for (const r of w.regionNames) {
      const view = await api.view(r);
      if (view.body?.hash !== local.hash(r)) hubViewsMatch = false;
    }
    const regionInfo = new Map(
      await Promise.all(w.regionNames.map(async (r) => [r, (await api.region(r)).body] as const)),
    );

    // The probe squeezes one line on purpose: it is not part of the churn figures.
    sampling = false;
    await sampler;
    const largestSeen = new Map(w.regionNames.map((r) => [r, initialStatus.get(r)!.sync.bytesReceived]));
    const probe = await budgetProbe(w, local, api, agents, versions, revision, largestSeen, cfg, log);

    const regions: LiveRegionFigures[] = w.regionNames.map((r) => {
      const budget = regionInfo.get(r)?.budget as
        | { bytesPerSecond: number | null; burstBytes: number | null }
        | undefined;
      const region = w.initial.find(
        (x) => x.kind === 'Region' && x.metadata.name === r,
      ) as ResourceOf<'Region'>;
      const bps =
        budget?.bytesPerSecond ?? (region.spec.link ? parseByteRate(region.spec.link.budget) : null);
      const burst =
        budget?.burstBytes ??
        (region.spec.link?.burst !== undefined ? parseByteSize(region.spec.link.burst) : bps);
      const s = samples.get(r)!;
      const name = `fedmesh-agent-${r}`;
      return {
        region: r,
        viewResources: Object.keys(local.resources(r) ?? {}).length,
        initialSnapshotBytes: initialStatus.get(r)!.sync.bytesReceived,
        agentBytes: finalStatus.get(r)!.sync.bytesReceived - initialStatus.get(r)!.sync.bytesReceived,
        connzOutBytes:
          connzBefore && connzAfter ? (connzAfter.get(name) ?? 0) - (connzBefore.get(name) ?? 0) : null,
        hubBytesSent: (hubAfter.get(r) ?? 0) - (hubBefore.get(r) ?? 0),
        predictedWireBytes: predicted.get(r)!,
        changesReceived: received.get(r)!,
        budgetBytesPerSecond: bps,
        burstBytes: burst,
        peakRate1s: peakRate(s, 1000),
        envelopeRatio: bps === null ? null : envelope(s, bps, burst ?? bps),
      };
    });
    const totalAgent = sum(regions.map((x) => x.agentBytes));
    const totalPredicted = sum(regions.map((x) => x.predictedWireBytes));
    const connzKnown = regions.every((x) => x.connzOutBytes !== null);
    const denom = cfg.changes * regions.length;
    const regionChanges = Math.max(1, sum(regions.map((x) => x.changesReceived)));
    const churn = (field: 'lineBytesReceived' | 'payloadBytes' | 'messagesReceived') =>
      sum(w.regionNames.map((r) => finalStatus.get(r)!.sync[field] - initialStatus.get(r)!.sync[field]));
    const perRegionChange = {
      lineBytes: churn('lineBytesReceived') / regionChanges,
      payloadBytes: churn('payloadBytes') / regionChanges,
      framingBytes: (churn('lineBytesReceived') - churn('payloadBytes')) / regionChanges,
      messages: churn('messagesReceived') / regionChanges,
    };
    const reportedByAgent = [...finalStatus.values()].some((s) => mentionsBudget(s));
    return {
      config: {
        services: cfg.services,
        regions: cfg.regions,
        seed: cfg.seed,
        changes: cfg.changes,
        mix: cfg.mix,
        debounce: cfg.debounce,
        maxWait: cfg.maxWait,
        pollMs: cfg.pollMs,
        changeTimeoutMs: cfg.changeTimeoutMs,
      },
      resources: w.initial.length,
      agents: 'processes',
      agentStartSeconds,
      initialSyncSeconds,
      convergenceMs: summarize(perChange),
      convergencePerRegionMs: summarize(perRegion),
      convergenceByKind: Object.fromEntries([...byKind].map(([k, v]) => [k, summarize(v)])),
      timeouts,
      regionsPerChange: summarize(touched),
      bytesPerRegionPerChange: {
        agent: totalAgent / denom,
        connz: connzKnown ? sum(regions.map((x) => x.connzOutBytes!)) / denom : null,
        predicted: totalPredicted / denom,
      },
      perRegionChange,
      measuredOverModel: totalAgent / totalPredicted,
      regions,
      hubViewsMatch,
      pacing: {
        reportedByAgent,
        probe,
        verdict: verdict(probe, reportedByAgent),
      },
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    sampling = false;
    await sampler?.catch(() => undefined);
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

// ---- the budget probe ---------------------------------------------------------------------------

/**
 * Squeezes one region's link budget, then sends that region a quick run of rolling restarts (every
 * endpoint of its four largest deployments gets a new address; one change every
 * `PROBE_SPACING_MS`, past the hub's debounce, so each is its own delta) whose bytes ask for about
 * four times the budget and at least three times the largest message the agent has seen (its
 * snapshot: a bucket may be sized to let that through). A paced agent falls behind and catches up
 * at the budget; an unpaced one keeps up with the hub. Many messages rather than one snapshot,
 * because a token bucket can only hold back the next message, never split the one it is given.
 */
const PROBE_MAX_CHANGES = 40;
const PROBE_SPACING_MS = 150;

async function budgetProbe(
  w: ReturnType<typeof createWorkload>,
  local: ReturnType<typeof loadScoper>,
  api: ReturnType<typeof hubClient>,
  agents: Map<string, AgentProcess>,
  versions: ReadonlyMap<string, number>,
  revision: number,
  largestSeen: ReadonlyMap<string, number>,
  cfg: LiveConfig,
  log: (line: string) => void,
): Promise<LiveResult['pacing']['probe']> {
  const region = [...w.regionNames].sort(
    (a, b) => Object.keys(local.resources(b) ?? {}).length - Object.keys(local.resources(a) ?? {}).length,
  )[0]!;
  const agent = agents.get(region)!;
  // Restarts reach this region only (the healthy count stays): the probe loads one line.
  const mine = [...w.current().values()]
    .filter(
      (r): r is ResourceOf<'ServiceEndpoints'> => r.kind === 'ServiceEndpoints' && r.spec.region === region,
    )
    .sort((a, b) => b.spec.endpoints.length - a.spec.endpoints.length)
    .slice(0, 4);
  const rng = createRng(cfg.seed + 7);
  const restart = (r: ResourceOf<'ServiceEndpoints'>): ResourceOf<'ServiceEndpoints'> => {
    const used = new Set<string>();
    const endpoints = r.spec.endpoints.map((e) => {
      let address: string;
      do address = `10.250.${Math.floor(rng() * 256)}.${1 + Math.floor(rng() * 254)}`;
      while (used.has(address));
      used.add(address);
      return { ...e, address };
    });
    return { ...r, spec: { ...r.spec, endpoints } };
  };
  // What the changes weigh decides how many and the budget: measure them on a scratch scoper.
  const scratch = loadScoper([...w.current().values()]);
  const scratchVersions = new Map(versions);
  const largest = largestSeen.get(region) ?? 0;
  const steps: { writes: Write[]; wire: number; maxMessage: number }[] = [];
  let weight = 0;
  while (steps.length < PROBE_MAX_CHANGES && (steps.length < 8 || weight < 3 * largest)) {
    const writes = mine.map((r, i) => {
      const next = restart(r);
      mine[i] = next;
      return {
        key: `ServiceEndpoints/${r.metadata.namespace}/${r.metadata.name}`,
        resource: next as Resource,
      };
    });
    const step = await fedmeshStep(scratch, writes, scratchVersions, revision + 1 + steps.length, cfg.encode);
    const x = step.regions.get(region);
    const wire = x?.wireBytes ?? 0;
    weight += wire;
    steps.push({ writes, wire, maxMessage: x ? wire / x.messages : 0 });
  }
  const total = sum(steps.map((s) => s.wire));
  const budget = Math.max(64, Math.round(total / ((steps.length * PROBE_SPACING_MS) / 1000) / 4));
  const regionKey = `Region/_/${region}`;
  const current = local.resource(regionKey) as ResourceOf<'Region'>;
  const finalRegion: Resource = { ...current, spec: { ...current.spec, link: { budget, burst: budget } } };
  local.apply(regionKey, finalRegion);
  local.flush();
  const squeezedHash = local.hash(region)!;
  for (const s of steps) for (const x of s.writes) local.apply(x.key, x.resource);
  local.flush();
  const target = local.hash(region)!;

  await send(api, [{ key: regionKey, resource: finalRegion }]);
  await waitHash(agent, squeezedHash, cfg.changeTimeoutMs, cfg.pollMs);
  // A full second at the new budget: the bucket starts the probe full, as after any quiet spell.
  await sleep(1000);
  const effectiveBefore = findBudget(await agentStatus(agent).catch(() => undefined));

  const samples: Sample[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const s = await agentStatus(agent).catch(() => undefined);
      if (s) samples.push({ t: performance.now(), bytes: s.sync.bytesReceived });
      await sleep(20);
    }
  })();
  await sleep(40);
  const start = performance.now();
  for (const s of steps) {
    await send(api, s.writes);
    await sleep(PROBE_SPACING_MS);
  }
  const sentSeconds = (performance.now() - start) / 1000;
  let converged = true;
  for (;;) {
    const s = await agentStatus(agent).catch(() => undefined);
    if (s?.hash === target) break;
    if (performance.now() - start > 90_000) {
      converged = false;
      break;
    }
    await sleep(cfg.pollMs);
  }
  const seconds = (performance.now() - start) / 1000;
  await sleep(60);
  sampling = false;
  await sampler;
  const effectiveAfter = findBudget(await agentStatus(agent).catch(() => undefined));
  const effective =
    effectiveBefore || effectiveAfter
      ? {
          bytesPerSecond: Math.max(effectiveBefore?.bytesPerSecond ?? 0, effectiveAfter?.bytesPerSecond ?? 0),
          burstBytes: Math.max(effectiveBefore?.burstBytes ?? 0, effectiveAfter?.burstBytes ?? 0),
        }
      : null;
  const base = samples[0]?.bytes ?? 0;
  const bytes = (samples[samples.length - 1]?.bytes ?? base) - base;
  const maxMessage = Math.ceil(Math.max(...steps.map((s) => s.maxMessage)));
  // One message beyond the bucket is allowed: a pull cannot know a message's size before it has it.
  const ratio = envelope(samples, budget, budget + maxMessage);
  const effectiveRatio = effective
    ? envelope(samples, effective.bytesPerSecond, effective.burstBytes + maxMessage)
    : null;
  log(
    `live: budget probe ${region}: ${bytes} B in ${seconds.toFixed(2)} s (sent over ${sentSeconds.toFixed(2)} s) ` +
      `at a budget of ${budget} B/s; envelope ${round(ratio, 2)}` +
      (effective
        ? `, against the agent's own budget (burst ${effective.burstBytes} B) ${round(effectiveRatio!, 2)}`
        : ''),
  );
  return {
    region,
    budgetBytesPerSecond: budget,
    burstBytes: budget,
    changes: steps.length,
    largestMessage: maxMessage,
    bytes,
    sentSeconds,
    seconds,
    converged,
    pacedSecondsAtLeast: Math.max(0, (bytes - budget - maxMessage) / budget),
    observedRate: bytes / Math.max(seconds, 1e-3),
    envelopeRatio: ratio,
    adhered: ratio <= ENVELOPE_TOLERANCE,
    agentBudget: effective,
    agentEnvelopeRatio: effectiveRatio,
  };
}

/** Slack on the envelope for the 20 ms sampling of the agent's counter. */
const ENVELOPE_TOLERANCE = 1.05;

/** The budget an agent says it enforces: any object in its status with bytesPerSecond and burstBytes. */
function findBudget(status: unknown): { bytesPerSecond: number; burstBytes: number } | undefined {
  if (!status || typeof status !== 'object') return undefined;
  const o = status as Record<string, unknown>;
  if (typeof o.bytesPerSecond === 'number' && typeof o.burstBytes === 'number') {
    return { bytesPerSecond: o.bytesPerSecond, burstBytes: o.burstBytes };
  }
  for (const v of Object.values(o)) {
    const found = findBudget(v);
    if (found) return found;
  }
  return undefined;
}

function verdict(probe: LiveResult['pacing']['probe'], reported: boolean): string {
  if (!probe) return 'no probe';
  const head = `${probe.bytes} B sent over ${probe.sentSeconds.toFixed(2)} s arrived by ${probe.seconds.toFixed(2)} s`;
  if (probe.adhered) {
    return `paced: ${head}, inside the Region's burst + one message + budget × time (envelope ${round(probe.envelopeRatio, 2)})`;
  }
  const own =
    probe.agentEnvelopeRatio !== null && probe.agentBudget
      ? probe.agentEnvelopeRatio <= ENVELOPE_TOLERANCE
        ? `; inside the agent's own budget (${probe.agentBudget.bytesPerSecond} B/s, burst ${probe.agentBudget.burstBytes} B: ` +
          `envelope ${round(probe.agentEnvelopeRatio, 2)}), so the agent paces with a wider burst than the Region asks for`
        : `; also ${round(probe.agentEnvelopeRatio, 1)}× the agent's own budget (${probe.agentBudget.bytesPerSecond} B/s, ` +
          `burst ${probe.agentBudget.burstBytes} B)`
      : '';
  return (
    `not held to the Region's budget: ${head}, ${round(probe.envelopeRatio, 1)}× what burst + one message + ` +
    `budget × time allows${own}` +
    (reported ? '' : '; the agent reports no budget: pacing is not there')
  );
}

// ---- helpers ------------------------------------------------------------------------------------

interface AgentStatusJson {
  hash: string;
  sync: {
    bytesReceived: number;
    lineBytesReceived: number;
    payloadBytes: number;
    messagesReceived: number;
  } & Record<string, unknown>;
  [k: string]: unknown;
}

export async function agentStatus(a: AgentProcess): Promise<AgentStatusJson> {
  const res = await fetch(`${a.statusUrl}/status`);
  return (await res.json()) as AgentStatusJson;
}

/** Polls until the agent reports `hash`; rejects after `timeoutMs`. */
export async function waitHash(
  a: AgentProcess,
  hash: string,
  timeoutMs: number,
  pollMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await agentStatus(a).catch(() => undefined);
    if (s?.hash === hash) return;
    if (performance.now() > deadline) throw new Error(`${a.region} did not reach ${hash.slice(0, 12)}`);
    await sleep(pollMs);
  }
}

export async function send(api: ReturnType<typeof hubClient>, writes: readonly Write[]): Promise<void> {
  if (writes.length === 1) {
    const { key, resource } = writes[0]!;
    const [kind, ns, name] = key.split('/') as [string, string, string];
    const res = resource ? await api.put(kind, ns, name, resource) : await api.del(kind, ns, name);
    if (res.status >= 300)
      throw new Error(`write ${key} failed (${res.status}): ${JSON.stringify(res.body)}`);
    return;
  }
  if (writes.some((x) => !x.resource))
    throw new Error('live: a multi-write change with a delete is not supported');
  const res = await api.call(
    'POST',
    '/v1/apply',
    writes.map((x) => x.resource),
  );
  if (res.status !== 200)
    throw new Error(`apply failed (${res.status}): ${JSON.stringify(res.body).slice(0, 2000)}`);
}

/** out_bytes per connection name from the server's /connz (null when monitoring is unreachable). */
async function connz(monitorUrl: string): Promise<Map<string, number> | null> {
  try {
    const res = await fetch(`${monitorUrl}/connz?limit=4096`);
    const body = (await res.json()) as { connections?: { name?: string; out_bytes: number }[] };
    const out = new Map<string, number>();
    for (const c of body.connections ?? []) if (c.name) out.set(c.name, (out.get(c.name) ?? 0) + c.out_bytes);
    return out;
  } catch {
    return null;
  }
}

async function hubSent(
  api: ReturnType<typeof hubClient>,
  regions: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of regions) out.set(r, (await api.region(r)).body?.bytesSent ?? 0);
  return out;
}

/** Highest rate over windows of about `windowMs` between counter samples. */
function peakRate(s: readonly Sample[], windowMs: number): number {
  let best = 0;
  let j = 0;
  for (let i = 0; i < s.length; i++) {
    while (j < s.length && s[j]!.t - s[i]!.t < windowMs) j++;
    if (j >= s.length) break;
    best = Math.max(best, ((s[j]!.bytes - s[i]!.bytes) * 1000) / (s[j]!.t - s[i]!.t));
  }
  return best;
}

/**
 * max over sample pairs of bytes / (burst + budget × Δt): a token bucket of that budget and burst
 * lets through at most the denominator in any window, so a paced line stays at or below 1.
 */
function envelope(s: readonly Sample[], budget: number, burst: number): number {
  let worst = 0;
  for (let i = 0; i < s.length; i++) {
    for (let j = i + 1; j < s.length; j++) {
      const bytes = s[j]!.bytes - s[i]!.bytes;
      if (bytes <= 0) continue;
      worst = Math.max(worst, bytes / (burst + (budget * (s[j]!.t - s[i]!.t)) / 1000));
    }
  }
  return worst;
}

/** Whether an agent's status JSON carries a budget figure, i.e. the agent knows what it must keep to. */
function mentionsBudget(status: unknown): boolean {
  if (!status || typeof status !== 'object') return false;
  for (const [k, v] of Object.entries(status)) {
    if (/budget/i.test(k) && (typeof v === 'number' || (v && typeof v === 'object'))) return true;
    if (v && typeof v === 'object' && !Array.isArray(v) && mentionsBudget(v)) return true;
  }
  return false;
}

/**
 * Model mode: one change stream fed, in process, to four ways of keeping regions up to date, each
 * encoded with the project's own encoder (canonical JSON → brotli → 64 KiB chunks):
 *
 *   (a) full push       the whole mesh to every region on every change (state of the world, no scoping)
 *   (b) unscoped delta  the changed resources, whole, to every region (delta xDS / KDS without scoping)
 *   (c) fedmesh         the incremental scoper, RFC 6902 ops of the changed view entries, per region
 *   (d) lower bound     per region, the minimal [path, value] pairs of the change (identity-matched),
 *                       brotli q11, no framing at all
 *
 * Bytes are compressed payload bytes; `wireBytes` adds everything else a delivered message costs
 * on the line but TCP/IP: the envelope, the JetStream headers, the HMSG line and its ack subject.
 * The hub's path and the line's accounting are in `pipeline.ts`; the same changes grouped into the
 * hub's publication rounds at a churn rate, against the bound of those rounds, in `line.ts`.
 */

import { encodeDelta, encodeSnapshot, type RegionChanges } from '@fedmesh/hub';
import { type EnvelopeMeta, encodeEnvelope, MessageType, type ViewResource } from '@fedmesh/shared';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { type LineAtRate, lineAtRate, lineFigures, lowerBoundBytes } from './line.js';
import {
  type EncodeConfig,
  encodeOpts,
  fedmeshStep,
  framedBytes,
  loadScoper,
  meanStages,
  measure,
  type StageTimes,
} from './pipeline.js';
import { type Summary, sum, summarize } from './stats.js';
import {
  CHANGE_KINDS,
  type ChangeKind,
  type ChurnMix,
  createWorkload,
  keyOf,
  type WorkloadStats,
} from './workload.js';

const { escapePathComponent } = fastJsonPatch;

// ---- the four strategies ------------------------------------------------------------------------

export interface ModelConfig {
  services: number;
  regions: number;
  seed: number;
  changes: number;
  warmup: number;
  mix: ChurnMix;
  /** Mesh states at which the full mesh is compressed (each one costs seconds at 10k services). */
  fullPushSamples: number;
  encode: EncodeConfig;
  /**
   * Rates (changes/s) at which the line is also measured with changes grouped into the hub's
   * publication rounds; 0 is every change alone. `rate` is the one `ratios` and `framing` report.
   */
  rates: number[];
  rate: number;
}

export interface StrategyFigures {
  /** Compressed payload bytes summed over every region and change. */
  totalBytes: number;
  /** Payload plus the NATS header block of every message. */
  totalWireBytes: number;
  messages: number;
  perChange: Summary;
  bytesPerRegionPerChange: number;
}

export interface KindFigures {
  changes: number;
  fullPush: number;
  unscopedDelta: number;
  fedmesh: number;
  lowerBound: number;
  regionsTouched: Summary;
}

export interface ModelResult {
  config: Omit<ModelConfig, 'encode'> & { codec: string; level: number | 'default'; chunkSize: number };
  workload: WorkloadStats;
  viewSize: Summary;
  strategies: {
    fullPush: StrategyFigures;
    unscopedDelta: StrategyFigures;
    fedmesh: StrategyFigures;
    lowerBound: StrategyFigures;
  };
  fullPushSamples: {
    atChange: number;
    resources: number;
    rawBytes: number;
    bytes: number;
    messages: number;
  }[];
  regionsTouchedPerChange: Summary;
  fedmeshPerRegion: { min: number; p50: number; max: number };
  byKind: Record<ChangeKind, KindFigures>;
  hubCpu: { perChangeUs: Summary; stagesUs: StageTimes };
  ratios: {
    fullPushOverFedmesh: number;
    unscopedDeltaOverFedmesh: number;
    /**
     * fedmesh on the line (payload and all framing) ÷ the field-level lower bound, with changes
     * arriving at `config.rate` and published in the hub's rounds (the bound per round too).
     */
    fedmeshOverLowerBound: number;
    /** fedmesh payload alone ÷ the same bound. */
    fedmeshPayloadOverLowerBound: number;
    /** The same ratio with every change published alone: the floor a quiet mesh pays. */
    fedmeshOverLowerBoundAlone: number;
  };
  /** Everything but payload, per message and per region-change (one change reaching one region), at `config.rate`. */
  framing: { perMessage: number; perRegionChange: number; perRegionChangeSigned: number };
  /** The line by rate of changes (`config.rates`). */
  lineByRate: LineAtRate[];
  seconds: number;
}

export async function runModel(cfg: ModelConfig, log: (line: string) => void): Promise<ModelResult> {
  const started = performance.now();
  const w = createWorkload({ services: cfg.services, regions: cfg.regions, seed: cfg.seed, mix: cfg.mix });
  const regionCount = w.regionNames.length;
  log(`model: ${w.initial.length.toLocaleString('en-US')} resources, ${regionCount} regions`);
  const scoper = loadScoper(w.initial);
  const viewSizes = w.regionNames.map((r) => Object.keys(scoper.resources(r) ?? {}).length);
  const versions = new Map<string, number>();
  const known = new Set(w.initial.map(keyOf));
  let revision = w.initial.length;

  // Warm-up: JIT, brotli's first allocations, the caches of the scoper, none of it counted.
  for (let i = 0; i < cfg.warmup; i++) {
    const c = w.nextChange();
    await fedmeshStep(scoper, c.writes, versions, ++revision, cfg.encode);
    for (const x of c.writes) known.add(x.key);
  }

  const samplesAt = new Set(
    Array.from({ length: Math.max(1, cfg.fullPushSamples) }, (_, i) =>
      Math.floor(((i + 0.5) * cfg.changes) / Math.max(1, cfg.fullPushSamples)),
    ),
  );
  const fullSamples: ModelResult['fullPushSamples'] = [];
  const per = {
    unscoped: [] as { bytes: number; wire: number; messages: number }[],
    fedmesh: [] as { bytes: number; wire: number; messages: number }[],
    lower: [] as number[],
  };
  const cpu: number[] = [];
  const stageSum: StageTimes = { apply: 0, flush: 0, ops: 0, hash: 0, encode: 0 };
  const touched: number[] = [];
  const kinds: ChangeKind[] = [];
  const perRegionFedmesh = new Map<string, number>(w.regionNames.map((r) => [r, 0]));
  const stepChanges: Map<string, RegionChanges>[] = [];

  for (let i = 0; i < cfg.changes; i++) {
    const c = w.nextChange();
    kinds.push(c.kind);
    const toVersion = ++revision;
    const step = await fedmeshStep(scoper, c.writes, versions, toVersion, cfg.encode);
    cpu.push(step.cpuUs);
    for (const k of Object.keys(stageSum) as (keyof StageTimes)[]) stageSum[k] += step.stages[k];
    touched.push(step.regions.size);
    stepChanges.push(new Map([...step.regions].map(([region, r]) => [region, r.changes])));
    per.fedmesh.push({
      bytes: sum([...step.regions.values()].map((r) => r.bytes)),
      wire: sum([...step.regions.values()].map((r) => r.wireBytes)),
      messages: sum([...step.regions.values()].map((r) => r.messages)),
    });
    for (const [region, r] of step.regions)
      perRegionFedmesh.set(region, perRegionFedmesh.get(region)! + r.bytes);

    // (d) per region, the field-level bound of what changed for it.
    let lower = 0;
    for (const r of step.regions.values()) lower += await lowerBoundBytes(r.changes, cfg.encode);
    per.lower.push(lower);

    // (b) the changed resources, whole, once; every region gets the same message(s).
    const ops: Operation[] = c.writes.map((x) => {
      const path = `/${escapePathComponent(x.key)}`;
      if (!x.resource) return { op: 'remove', path };
      return known.has(x.key)
        ? { op: 'replace', path, value: x.resource }
        : { op: 'add', path, value: x.resource };
    });
    for (const x of c.writes) known.add(x.key);
    const unscoped = measure(
      await encodeDelta(w.regionNames[0]!, toVersion - 1, toVersion, ZERO_HASH, ops, encodeOpts(cfg.encode)),
    );
    per.unscoped.push({
      bytes: unscoped.bytes * regionCount,
      wire: unscoped.wireBytes * regionCount,
      messages: unscoped.messages * regionCount,
    });

    // (a) the whole mesh, compressed once per sampled state; every region receives the same bytes.
    if (samplesAt.has(i)) {
      const resources: Record<string, ViewResource> = {};
      for (const [k, r] of w.current()) resources[k] = r;
      const msgs = await encodeSnapshot(
        w.regionNames[0]!,
        toVersion,
        ZERO_HASH,
        resources,
        encodeOpts(cfg.encode),
      );
      const m = measure(msgs);
      fullSamples.push({
        atChange: i,
        resources: w.current().size,
        rawBytes: msgs[0]!.meta.rawSize,
        bytes: m.bytes,
        messages: m.messages,
      });
      log(`model: full mesh at change ${i}: ${m.bytes.toLocaleString('en-US')} B compressed`);
    }
  }

  const n = cfg.changes;
  const fullPerRegion = sum(fullSamples.map((s) => s.bytes)) / fullSamples.length;
  const fullWirePerRegion =
    sum(
      fullSamples.map(
        (s) =>
          s.bytes +
          s.messages * (framedBytes('aws-eu-00', 0) + encodeEnvelope(sampleMeta(s.messages)).byteLength),
      ),
    ) / fullSamples.length;
  const fullMessages = sum(fullSamples.map((s) => s.messages)) / fullSamples.length;
  const figures = (bytes: number[], wire: number[], messages: number): StrategyFigures => ({
    totalBytes: sum(bytes),
    totalWireBytes: sum(wire),
    messages,
    perChange: summarize(bytes),
    bytesPerRegionPerChange: sum(bytes) / (n * regionCount),
  });
  const strategies = {
    fullPush: figures(
      Array.from({ length: n }, () => fullPerRegion * regionCount),
      Array.from({ length: n }, () => fullWirePerRegion * regionCount),
      fullMessages * regionCount * n,
    ),
    unscopedDelta: figures(
      per.unscoped.map((x) => x.bytes),
      per.unscoped.map((x) => x.wire),
      sum(per.unscoped.map((x) => x.messages)),
    ),
    fedmesh: figures(
      per.fedmesh.map((x) => x.bytes),
      per.fedmesh.map((x) => x.wire),
      sum(per.fedmesh.map((x) => x.messages)),
    ),
    lowerBound: figures(per.lower, per.lower, 0),
  };

  const lineByRate: LineAtRate[] = [];
  for (const rate of cfg.rates) {
    lineByRate.push(
      rate <= 0
        ? lineFigures(
            0,
            n,
            strategies.fedmesh.messages,
            sum(touched),
            strategies.fedmesh.totalBytes,
            strategies.fedmesh.totalWireBytes,
            strategies.lowerBound.totalBytes,
          )
        : await lineAtRate(rate, stepChanges, revision - n, cfg),
    );
    log(`model: line at ${rate} changes/s done`);
  }
  const primary = lineByRate.find((x) => x.rate === cfg.rate) ?? lineByRate[0]!;
  const alone = lineByRate.find((x) => x.rate === 0)!;

  const byKind = {} as Record<ChangeKind, KindFigures>;
  for (const kind of CHANGE_KINDS) {
    const idx = kinds.flatMap((k, i) => (k === kind ? [i] : []));
    byKind[kind] = {
      changes: idx.length,
      fullPush: idx.length ? fullPerRegion * regionCount : 0,
      unscopedDelta: mean(idx.map((i) => per.unscoped[i]!.bytes)),
      fedmesh: mean(idx.map((i) => per.fedmesh[i]!.bytes)),
      lowerBound: mean(idx.map((i) => per.lower[i]!)),
      regionsTouched: summarize(idx.map((i) => touched[i]!)),
    };
  }
  const perRegionTotals = [...perRegionFedmesh.values()].sort((a, b) => a - b);
  const avgStages = meanStages(stageSum, n);

  return {
    config: {
      services: cfg.services,
      regions: cfg.regions,
      seed: cfg.seed,
      changes: cfg.changes,
      warmup: cfg.warmup,
      mix: cfg.mix,
      fullPushSamples: cfg.fullPushSamples,
      rates: cfg.rates,
      rate: primary.rate,
      codec: cfg.encode.codec,
      level: cfg.encode.level ?? 'default',
      chunkSize: cfg.encode.chunkSize,
    },
    workload: w.stats(),
    viewSize: summarize(viewSizes),
    strategies,
    fullPushSamples: fullSamples,
    regionsTouchedPerChange: summarize(touched),
    fedmeshPerRegion: {
      min: perRegionTotals[0] ?? 0,
      p50: perRegionTotals[Math.floor(perRegionTotals.length / 2)] ?? 0,
      max: perRegionTotals[perRegionTotals.length - 1] ?? 0,
    },
    byKind,
    hubCpu: { perChangeUs: summarize(cpu), stagesUs: avgStages },
    ratios: {
      fullPushOverFedmesh: strategies.fullPush.totalBytes / strategies.fedmesh.totalBytes,
      unscopedDeltaOverFedmesh: strategies.unscopedDelta.totalBytes / strategies.fedmesh.totalBytes,
      // On the line, all framing included, against the field-level bound (which has none).
      fedmeshOverLowerBound: primary.lineOverBound,
      fedmeshPayloadOverLowerBound: primary.payloadOverBound,
      fedmeshOverLowerBoundAlone: alone.lineOverBound,
    },
    framing: {
      perMessage: primary.framingPerMessage,
      perRegionChange: primary.framingPerRegionChange,
      perRegionChangeSigned: primary.framingPerRegionChangeSigned,
    },
    lineByRate,
    seconds: (performance.now() - started) / 1000,
  };
}

const ZERO_HASH = '0'.repeat(64);

/** A snapshot chunk's metadata, for its header size (the digits of versions barely matter). */
function sampleMeta(count: number): EnvelopeMeta {
  return {
    type: MessageType.Snapshot,
    region: 'aws-eu-00',
    fromVersion: 0,
    toVersion: 100_000,
    toHash: ZERO_HASH,
    codec: 'br',
    chunk: { index: 1, count },
    rawSize: 10_000_000,
  };
}

function mean(xs: number[]): number {
  return xs.length ? sum(xs) / xs.length : 0;
}

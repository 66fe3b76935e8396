import {
  type CatchUpReply,
  type CatchUpRequest,
  ErrorCode,
  FedmeshError,
  isFedmeshError,
  type Logger,
  negotiateCodec,
  type RegionView,
  type Resource,
  type ResourceRef,
  remoteEndpointsKey,
  viewKey,
} from '@fedmesh/shared';
import { eachConcurrently } from '../concurrency.js';
import { createIncrementalScoper } from '../scope/index.js';
import { createKeyChangeIndex, type KeyChangeIndex, planCatchUp } from './catch-up.js';
import { ChainAttempt } from './chain.js';
import { behindStream, type ChainWriter, type CurrentView, createChainWriter } from './chain-writer.js';
import type { EncodeOptions } from './encoder.js';
import { createLineHold, type LineHold } from './hold.js';
import { previewRegion } from './preview.js';
import { newRegionState, type RegionState, recordFailure, stageChanges } from './region-state.js';
import { createPublishSchedule, type PublishSchedule } from './schedule.js';
import type { RegionPreview, RegionSyncStats, SyncEngine, SyncEngineDeps } from './types.js';
import { type UrgentLane, urgentEntries } from './urgent.js';
import { type ConfigWatchCache, createConfigWatchCache } from './watch-cache.js';

export function createSyncEngine(deps: SyncEngineDeps): SyncEngine {
  return new Engine(deps);
}

/**
 * Wiring and publication: the watch cache feeds the scoper, the schedule says when to publish,
 * and this class says which regions, one task at a time; the chain writer puts each region's
 * next step on the stream, as the chain decision chooses it.
 */
class Engine implements SyncEngine {
  private readonly scoper = createIncrementalScoper();
  private readonly cache: ConfigWatchCache;
  private readonly schedule: PublishSchedule;
  private readonly states = new Map<string, RegionState>();
  /** Changes were fed to the scoper since its last flush. */
  private dirty = false;
  /** The config watch has delivered the config: `start` does not open another. */
  private watching = false;
  /** Serialises flushes and snapshot publications: a region's chain is written by one task at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;
  private readonly encoding: Omit<EncodeOptions, 'codec'>;
  private readonly writer: ChainWriter;
  private readonly replayBytes: NonNullable<SyncEngineDeps['replayBytes']>;
  private readonly urgentLane: UrgentLane | undefined;
  /** Writes an operator marked urgent, not yet flushed. */
  private marked: ResourceRef[] = [];
  private readonly maxReplayMessages: number;
  /** When each change not yet on the stream arrived from the watch (ms, monotonic). */
  private arrivals: number[] = [];
  private readonly onChangesPublished: SyncEngineDeps['onChangesPublished'];
  private readonly onRound: SyncEngineDeps['onRound'];
  /** Which keys changed at which version, per region: what a coalesced catch-up delta needs. */
  private readonly changes: KeyChangeIndex = createKeyChangeIndex();
  /** Coalescing under throttle: which regions' changes wait for their line to drain. */
  private readonly hold: LineHold;

  constructor(deps: SyncEngineDeps) {
    this.log = deps.logger.child({ component: 'sync' });
    this.onChangesPublished = deps.onChangesPublished;
    this.onRound = deps.onRound;
    this.replayBytes = deps.replayBytes ?? (() => undefined);
    this.maxReplayMessages = deps.options.maxReplayMessages ?? 500;
    this.urgentLane = deps.urgentLane;
    this.hold = createLineHold({
      coalesceAfterMs: deps.options.coalesceAfterMs ?? 0,
      lineDrainMs: deps.lineDrainMs ?? (() => undefined),
      log: this.log,
      publish: () => {
        this.dirty = true;
        this.enqueue(() => this.publishChanges()).catch((err) =>
          this.log.error({ err }, 'publication of held changes failed'),
        );
      },
    });
    const { chunkSize, compressionLevel: level, keyframeEvery = 1000, signingKey: key } = deps.options;
    this.encoding = { chunkSize, ...(level === undefined ? {} : { level }), ...(key ? { key } : {}) };
    this.writer = createChainWriter({
      publisher: deps.publisher,
      keyframeEvery,
      encoding: this.encoding,
      log: this.log,
      ...(deps.onPublished ? { onPublished: deps.onPublished } : {}),
    });
    this.cache = createConfigWatchCache({
      store: deps.store,
      logger: deps.logger,
      onChange: (key, resource, initial) => {
        this.scoper.apply(key, resource);
        this.dirty = true;
        if (!initial && this.onChangesPublished) this.arrivals.push(performance.now());
        // The initial config is published by `reconcileWithStream`, against what the stream holds.
        if (!initial) this.schedule.changed();
      },
    });
    const { debounceMs, maxWaitMs, retryMs = 2000 } = deps.options;
    this.schedule = createPublishSchedule({ debounceMs, maxWaitMs, retryMs }, (cause) => {
      // A retry has no new change behind it: what it retries is still pending in the region states.
      if (cause === 'retry') this.dirty = true;
      this.enqueue(() => this.publishChanges()).catch((err) =>
        this.log.error({ err }, cause === 'retry' ? 'retry failed' : 'publication failed'),
      );
    });
  }

  /** May be called again after it failed (the config watch could not start): it goes on from there. */
  async start(): Promise<void> {
    if (!this.watching) {
      await this.cache.start();
      this.watching = true;
    }
    await this.enqueue(() => this.reconcileWithStream());
  }

  async stop(): Promise<void> {
    this.schedule.stop();
    this.hold.stop();
    const watching = this.cache.stop();
    await this.queue.catch(() => undefined);
    await watching;
  }

  view(region: string): RegionView | undefined {
    const st = this.states.get(region);
    const resources = this.scoper.resources(region);
    if (!st || !resources || !this.defined(region)) return undefined;
    return { region, version: st.version, hash: this.scoper.hash(region)!, resources };
  }

  head(region: string): { version: number; hash: string } | undefined {
    const st = this.states.get(region);
    const hash = this.scoper.hash(region);
    if (!st || hash === undefined || !this.defined(region)) return undefined;
    return { version: st.version, hash };
  }

  /** Regions whose Region resource exists: a deleted Region is gone, not stale. */
  regions(): string[] {
    return [...this.states.keys()].filter((r) => this.defined(r)).sort();
  }

  private defined(region: string): boolean {
    return this.cache.resource({ kind: 'Region', namespace: '_', name: region }) !== undefined;
  }

  stats(region: string): RegionSyncStats | undefined {
    return this.states.get(region)?.stats;
  }

  resource(ref: ResourceRef): Resource | undefined {
    return this.cache.resource(ref);
  }

  stored(ref: ResourceRef) {
    return this.cache.stored(ref);
  }

  list(filter: { kind?: string; namespace?: string }, atLeast: number) {
    return this.cache.list(filter, atLeast);
  }

  revision(): number {
    return this.cache.revision();
  }

  setAcceptedCodecs(region: string, codecs: readonly string[]): void {
    const st = this.states.get(region);
    if (st) st.codec = negotiateCodec(codecs);
  }

  preview(region: string, proposed: readonly Resource[]): Promise<RegionPreview> {
    const st = this.states.get(region);
    return previewRegion({
      region,
      config: this.cache.resources(),
      proposed,
      fromVersion: st?.version ?? 0,
      toVersion: this.cache.revision() + 1,
      encode: { ...this.encoding, codec: st?.codec ?? negotiateCodec(undefined) },
    });
  }

  markUrgent(ref: ResourceRef): void {
    if (this.urgentLane) this.marked.push(ref);
  }

  async flush(): Promise<void> {
    // What the store holds now is in the views this publishes: the preview test once read a view
    // that missed writes already acknowledged, while the watch was still delivering them.
    await this.cache.catchUp();
    this.schedule.flushed();
    return this.enqueue(() => this.publishChanges());
  }

  publishSnapshot(region: string): Promise<{ seq: number; version: number; hash: string }> {
    return this.enqueue(async () => {
      await this.publishChanges();
      const st = this.states.get(region);
      if (!st) throw new FedmeshError(ErrorCode.NotFound, `region ${region} is not defined`);
      return this.snapshotInQueue(region, st);
    });
  }

  /** A snapshot at the head, from inside the queue. */
  private async snapshotInQueue(
    region: string,
    st: RegionState,
  ): Promise<{ seq: number; version: number; hash: string }> {
    // A replica that is behind the stream waits to catch up rather than publish an older view.
    for (let attempt = 1; ; attempt++) {
      await this.writer.readHead(region, st);
      try {
        const res = await this.writer.advance(region, st, this.current(region), ChainAttempt.Forced);
        if (!res) throw behindStream(region);
        return { seq: res.firstSeq, version: st.version, hash: this.scoper.hash(region)! };
      } catch (err) {
        if (!isFedmeshError(err, ErrorCode.Unavailable) || !err.details.behind || attempt >= 50) throw err;
        await new Promise((r) => setTimeout(r, 100));
        this.dirty = true;
        await this.publishChanges();
      }
    }
  }

  catchUp(
    region: string,
    req: CatchUpRequest & { reason: NonNullable<CatchUpRequest['reason']> },
  ): Promise<CatchUpReply> {
    return this.enqueue(async () => {
      // An agent asking is the moment a held region's latest state goes out: it is what it needs.
      await this.publishChanges(region);
      const st = this.states.get(region);
      if (!st) throw new FedmeshError(ErrorCode.NotFound, `region ${region} is not defined`);
      await this.writer.readHead(region, st);
      const hash = this.scoper.hash(region)!;
      const head = st.stats.head;
      const choice = await planCatchUp({
        region,
        request: req,
        version: st.version,
        hash,
        settled: !st.base && head?.version === st.version && head.hash === hash,
        headSeq: head?.seq ?? 0,
        resources: () => this.scoper.resources(region)!,
        changedSince: (have) => this.changes.changedSince(region, have),
        encoding: { ...this.encoding, codec: st.codec },
        snapshotBytes: st.snapshotBytes,
        replayBytes: (after) => this.replayBytes(region, after),
        maxReplayMessages: this.maxReplayMessages,
      });
      st.snapshotBytes ??= choice.snapshotBytes;
      const { plan, bytes } = choice;
      const at = { version: st.version, hash, ...(bytes ? { bytes } : {}) };
      this.log.info({ region, have: req.have, reason: req.reason, plan, bytes }, 'catch-up');
      if (plan === 'current') return { plan, seq: head!.seq + 1, ...at };
      if (plan === 'replay') return { plan, ...at };
      if (plan === 'delta') {
        const res = await this.writer.appendAtHead(region, st, choice.delta!);
        return { plan, seq: res.firstSeq, ...at };
      }
      return { plan, ...at, ...(await this.snapshotInQueue(region, st)) };
    });
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** At start: adopt what the stream already holds where it matches, publish a snapshot where it does not. */
  private async reconcileWithStream(): Promise<void> {
    this.dirty = false;
    this.scoper.flush();
    // The views are as of the revision processed at the flush, not at any later await: a
    // version must name exactly the view it is published with (DESIGN.md, "One version, one view").
    const version = this.cache.revision();
    for (const region of this.scoper.regions()) {
      if (this.scoper.hash(region) === undefined) continue;
      const st = newRegionState(version);
      this.states.set(region, st);
      await this.writer.readHead(region, st).catch(() => undefined);
      await this.safely(region, st, () =>
        this.writer.advance(region, st, this.current(region), ChainAttempt.Start),
      );
      this.changes.reset(region, st.version);
    }
  }

  /** Publishes what is pending; `force` names a region published even while its line drains. */
  private async publishChanges(force?: string): Promise<void> {
    if (!this.dirty && force === undefined) return;
    this.dirty = false;
    const started = performance.now();
    const changed = this.scoper.flush();
    // Changes keep arriving while this round awaits the stream; they are in the scoper but not
    // in these views until the next flush. So the version is the revision the flush saw, read
    // here, before any await: reading it later labelled a view with a version it did not hold,
    // and a restarted hub then published that version again with another hash.
    const version = this.cache.revision();
    const arrivals = this.arrivals;
    this.arrivals = [];
    let failed = false;
    const marked = this.markedViewKeys();
    for (const [region, changes] of changed) {
      let st = this.states.get(region);
      if (!st) {
        st = newRegionState(version);
        this.states.set(region, st);
        this.changes.reset(region, version);
      }
      // Ahead of every chain publication of this round: that is what they overtake.
      const urgent = this.urgentLane && st.stats.head ? urgentEntries(changes, marked) : undefined;
      if (urgent) {
        await this.urgentLane!.offer(region, st.stats.head!.version, version, urgent, st.codec).catch((err) =>
          this.log.warn({ err, region }, 'cannot send urgent change; the chain carries it'),
        );
      }
      stageChanges(st, changes);
    }
    let holding = false;
    const due: [string, RegionState][] = [];
    for (const [region, st] of this.states) {
      if (!st.base) continue; // nothing pending
      st.version = version; // the pending view as of everything the flush processed
      if (region !== force && this.hold.holds(region, st, changed.has(region))) {
        holding = true;
        continue;
      }
      due.push([region, st]);
    }
    // Regions are separate chains: their publications overlap (`publishWidth` at a time).
    // One after another, a round waited for a JetStream acknowledgement per region: at Alibaba
    // scale under 500 changes/s the hub sat 28 % idle while changes waited over 2 s for their round.
    await eachConcurrently(due, publishWidth(due), async ([region, st]) => {
      const keys = [...st.pending.keys()];
      const ok = await this.safely(region, st, async () => {
        if (!st.stats.head) await this.writer.readHead(region, st);
        return (await this.writer.advance(region, st, this.current(region), ChainAttempt.Pending)) ?? true;
      });
      if (ok === undefined) failed = true;
      // On the stream (published, or adopted from another replica) as of `st.version`.
      else if (!st.base) this.changes.record(region, keys, st.version);
    });
    if (holding) this.hold.recheckSoon();
    this.onRound?.(performance.now() - started);
    // A change is published when every region it reached has it on the stream; after a failure
    // its wait goes on into the retry. A held region is not the hub's wait but its line's: the
    // change counts as published by the others.
    if (failed) this.arrivals = arrivals.concat(this.arrivals);
    else if (arrivals.length > 0) {
      const now = performance.now();
      this.onChangesPublished?.(arrivals.map((t) => now - t));
    }
  }

  /** The view keys of the writes marked urgent since the last flush (and clears the marks). */
  private markedViewKeys(): Set<string> {
    const keys = new Set<string>();
    for (const ref of this.marked) {
      keys.add(viewKey(ref.kind, ref.namespace, ref.name));
      // Other regions see a region's endpoints as its RemoteEndpoints entry.
      const r = this.cache.resource(ref);
      if (r?.kind === 'ServiceEndpoints')
        keys.add(remoteEndpointsKey(ref.namespace, r.spec.service, r.spec.region));
    }
    this.marked = [];
    return keys;
  }

  private current(region: string): CurrentView {
    return { hash: this.scoper.hash(region)!, resources: () => this.scoper.resources(region)! };
  }

  private async safely<T>(region: string, st: RegionState, task: () => Promise<T>): Promise<T | undefined> {
    try {
      return await task();
    } catch (err) {
      recordFailure(st, err);
      this.log.error({ err, region }, 'cannot publish region view; retrying');
      this.schedule.failed();
      return undefined;
    }
  }
}

/**
 * Regions whose publications of one round may be in flight at once. A round of small deltas is
 * bound by JetStream round trips: with 8 at a time, 50 regions took seven acknowledgements in a
 * row, and at Alibaba scale under 1,000 changes/s a round ran past the 2 s a change may wait.
 * A round of big steps (keyframes, a region's first views) holds each region's encoded messages
 * until they are acknowledged, so those go 8 at a time. (What raised the hub's peak RSS when
 * rounds went wide was the compressions waiting for a pool thread: bounded in shared/codec.ts.)
 */
function publishWidth(due: readonly (readonly [string, RegionState])[]): number {
  if (due.length === 0) return 1;
  const pending = due.reduce((n, [, st]) => n + st.pending.size, 0) / due.length;
  return pending > BIG_ROUND_KEYS_PER_REGION ? 8 : 64;
}
/** Keys pending per region above which a round's steps count as big. */
const BIG_ROUND_KEYS_PER_REGION = 500;

import {
  type Codec,
  ErrorCode,
  FedmeshError,
  isFedmeshError,
  type Logger,
  negotiateCodec,
  type RegionView,
  type Resource,
  type ResourceRef,
  refOf,
  resourceViewKey,
  viewHash,
  viewKey,
} from '@fedmesh/shared';
import type { Operation } from 'fast-json-patch';
import { createIncrementalScoper, type RegionChanges, scopeRegion } from '../scope/index.js';
import type { ConfigChange, ConfigStore } from '../store/index.js';
import { diffResources, opsFromChanges } from './delta.js';
import { encodeDelta, encodeSnapshot, type OutgoingMessage } from './encoder.js';
import type { PublishResult, StreamHead, SyncPublisher } from './publisher.js';

export interface SyncEngineOptions {
  /** Quiet time after a change before publishing, so a burst becomes one delta per region. */
  debounceMs: number;
  /** Longest a change may wait under a continuous burst. */
  maxWaitMs: number;
  chunkSize: number;
  compressionLevel?: number;
  /** Delay before retrying a publication that failed (NATS down, stream full). */
  retryMs?: number;
  /**
   * A snapshot replaces the next delta once this many deltas followed the last snapshot, so the
   * chain an agent may have to replay stays short (a keyframe).
   */
  keyframeEvery?: number;
}

export interface RegionSyncStats {
  /** Bytes put on the region's subject (payload and headers) since the hub started. */
  bytesSent: number;
  messagesSent: number;
  snapshotsSent: number;
  deltasSent: number;
  /** Uncompressed bytes of those payloads, for the compression ratio. */
  rawBytes: number;
  lastPublishedAt?: Date;
  lastError?: string;
  /** Stream head: what the region's chain says, as last published or read. */
  head?: StreamHead;
}

export interface SyncEngine {
  /** Loads the config, reads every region's stream head and publishes what is out of date. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The view a region should hold now. */
  view(region: string): RegionView | undefined;
  regions(): string[];
  stats(region: string): RegionSyncStats | undefined;
  /** A resource as the engine last saw it in the config (for reference checks). */
  resource(ref: ResourceRef): Resource | undefined;
  /** Config revision the engine has processed. */
  revision(): number;
  /**
   * The current config from the engine's watch cache, once it has caught up with `atLeast`
   * (the store's latest revision), so a list right after a write includes the write.
   */
  list(
    filter: { kind?: string; namespace?: string },
    atLeast: number,
  ): Promise<{ resource: Resource; revision: number }[]>;
  /** Publishes a full snapshot of the region's view; returns the stream sequence of its first message. */
  publishSnapshot(region: string): Promise<{ seq: number; version: number; hash: string }>;
  /** Publishes pending changes now (tests, shutdown, reads that must be current). */
  flush(): Promise<void>;
  /** Sets the codecs a region accepts (from its agent's status reports). */
  setAcceptedCodecs(region: string, codecs: readonly string[]): void;
  /** What the region would receive if `proposed` were applied: the ops and their size on the line. */
  preview(region: string, proposed: readonly Resource[]): Promise<RegionPreview>;
}

export interface RegionPreview {
  region: string;
  fromHash: string;
  toHash: string;
  ops: Operation[];
  codec: string;
  /** Canonical JSON of the ops, before compression. */
  rawBytes: number;
  /** Payload bytes after compression, and the number of sync messages (chunks) they take. */
  encodedBytes: number;
  messages: number;
}

export interface SyncEngineDeps {
  store: ConfigStore;
  publisher: SyncPublisher;
  logger: Logger;
  options: SyncEngineOptions;
  /** Called after every publication (metrics, line accounting); `messages` are what was published. */
  onPublished?: (
    region: string,
    kind: 'delta' | 'snapshot',
    result: PublishResult,
    rawBytes: number,
    messages: readonly OutgoingMessage[],
  ) => void;
}

/** Publication attempts against a chain other replicas keep advancing, before giving up for a retry later. */
const MAX_PUBLISH_ATTEMPTS = 5;
/** How long a list waits for the watch cache to catch up with a write it must include. */
const LIST_CATCH_UP_MS = 2_000;

export function createSyncEngine(deps: SyncEngineDeps): SyncEngine {
  return new Engine(deps);
}

interface RegionState {
  version: number;
  stats: RegionSyncStats;
  codec: Codec;
  /** Deltas published since the last snapshot. */
  deltasSinceSnapshot: number;
  /** Changes not yet on the stream, accumulated across failed attempts. */
  pending: RegionChanges;
  /** The version and hash the pending changes start from (what the stream held when they began). */
  base?: { version: number; hash: string };
}

class Engine implements SyncEngine {
  private readonly scoper = createIncrementalScoper();
  /** Revision of each resource's last write, for lists served from this cache. */
  private readonly revisions = new Map<string, number>();
  private readonly states = new Map<string, RegionState>();
  private processed = 0;
  private dirty = false;
  private firstDirtyAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private watchLoop: Promise<void> | undefined;
  /** Serialises flushes and snapshot publications: a region's chain is written by one task at a time. */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;
  private readonly keyframeEvery: number;

  constructor(private readonly deps: SyncEngineDeps) {
    this.log = deps.logger.child({ component: 'sync' });
    this.keyframeEvery = deps.options.keyframeEvery ?? 1000;
  }

  async start(): Promise<void> {
    let ready!: () => void;
    const readyP = new Promise<void>((r) => {
      ready = r;
    });
    const iterable = this.deps.store.watch({ onReady: () => ready(), signal: this.abort.signal });
    this.watchLoop = (async () => {
      try {
        for await (const change of iterable) this.onChange(change);
      } catch (err) {
        if (!this.abort.signal.aborted) this.log.error({ err }, 'config watch ended');
      }
    })();
    await readyP;
    await this.enqueue(() => this.reconcileWithStream());
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.abort.abort();
    await this.queue.catch(() => undefined);
    await this.watchLoop;
  }

  view(region: string): RegionView | undefined {
    const st = this.states.get(region);
    const resources = this.scoper.resources(region);
    if (!st || !resources) return undefined;
    return { region, version: st.version, hash: this.scoper.hash(region)!, resources };
  }

  regions(): string[] {
    return [...this.states.keys()].sort();
  }

  stats(region: string): RegionSyncStats | undefined {
    return this.states.get(region)?.stats;
  }

  resource(ref: ResourceRef): Resource | undefined {
    return this.scoper.resource(viewKey(ref.kind, ref.namespace, ref.name));
  }

  async list(filter: { kind?: string; namespace?: string }, atLeast: number) {
    const deadline = Date.now() + LIST_CATCH_UP_MS;
    while (this.processed < atLeast) {
      if (Date.now() > deadline) {
        throw new FedmeshError(
          ErrorCode.Unavailable,
          `config cache is behind the store (${this.processed} < ${atLeast})`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const out: { resource: Resource; revision: number }[] = [];
    for (const resource of this.scoper.config()) {
      if (filter.kind && resource.kind !== filter.kind) continue;
      const ref = refOf(resource);
      if (filter.namespace && ref.namespace !== filter.namespace) continue;
      out.push({ resource, revision: this.revisions.get(viewKey(ref.kind, ref.namespace, ref.name)) ?? 0 });
    }
    return out.sort(
      (a, b) =>
        a.resource.kind.localeCompare(b.resource.kind) ||
        (a.resource.metadata.namespace ?? '').localeCompare(b.resource.metadata.namespace ?? '') ||
        a.resource.metadata.name.localeCompare(b.resource.metadata.name),
    );
  }

  revision(): number {
    return this.processed;
  }

  setAcceptedCodecs(region: string, codecs: readonly string[]): void {
    const st = this.states.get(region);
    if (st) st.codec = negotiateCodec(codecs);
  }

  /**
   * Computed from scratch with the reference scoper: a preview is an operator's question, not
   * a hot path, and answering it must not touch the live views.
   */
  async preview(region: string, proposed: readonly Resource[]): Promise<RegionPreview> {
    const current = new Map<string, Resource>();
    for (const r of this.scoper.config()) current.set(resourceViewKey(r), r);
    const next = new Map(current);
    for (const r of proposed) next.set(resourceViewKey(r), r);
    const before = scopeRegion(region, current.values());
    const after = scopeRegion(region, next.values());
    const ops = diffResources(before, after, [...Object.keys(before), ...Object.keys(after)]);
    const st = this.states.get(region);
    const codec = st?.codec ?? negotiateCodec(undefined);
    const toHash = viewHash(after);
    const msgs = ops.length
      ? await encodeDelta(region, st?.version ?? 0, this.processed + 1, toHash, ops, {
          ...this.encodeOpts(st ?? this.newState(0)),
          codec,
        })
      : [];
    return {
      region,
      fromHash: viewHash(before),
      toHash,
      ops,
      codec,
      rawBytes: msgs[0]?.meta.rawSize ?? 0,
      encodedBytes: msgs.reduce((n, m) => n + m.data.byteLength, 0),
      messages: msgs.length,
    };
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.enqueue(() => this.publishChanges());
  }

  publishSnapshot(region: string): Promise<{ seq: number; version: number; hash: string }> {
    return this.enqueue(async () => {
      await this.publishChanges();
      const st = this.states.get(region);
      if (!st) throw new FedmeshError(ErrorCode.NotFound, `region ${region} is not defined`);
      // A replica that is behind the stream waits to catch up rather than publish an older view.
      for (let attempt = 1; ; attempt++) {
        await this.readHead(region, st);
        try {
          const res = await this.sendSnapshot(region, st);
          return { seq: res.firstSeq, version: st.version, hash: this.scoper.hash(region)! };
        } catch (err) {
          if (!isFedmeshError(err, ErrorCode.Unavailable) || !err.details.behind || attempt >= 50) throw err;
          await new Promise((r) => setTimeout(r, 100));
          this.dirty = true;
          await this.publishChanges();
        }
      }
    });
  }

  private onChange(change: ConfigChange): void {
    const key = viewKey(change.ref.kind, change.ref.namespace, change.ref.name);
    this.scoper.apply(key, change.op === 'put' ? change.resource : undefined);
    if (change.op === 'put') this.revisions.set(key, change.revision);
    else this.revisions.delete(key);
    this.processed = Math.max(this.processed, change.revision);
    if (!this.dirty) this.firstDirtyAt = Date.now();
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const { debounceMs, maxWaitMs } = this.deps.options;
    const wait = Math.max(0, Math.min(debounceMs, this.firstDirtyAt + maxWaitMs - Date.now()));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueue(() => this.publishChanges()).catch((err) => this.log.error({ err }, 'publication failed'));
    }, wait);
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private newState(version: number): RegionState {
    return {
      version,
      stats: { bytesSent: 0, messagesSent: 0, snapshotsSent: 0, deltasSent: 0, rawBytes: 0 },
      codec: negotiateCodec(undefined),
      deltasSinceSnapshot: 0,
      pending: new Map(),
    };
  }

  /** At start: adopt what the stream already holds where it matches, publish a snapshot where it does not. */
  private async reconcileWithStream(): Promise<void> {
    this.dirty = false;
    this.scoper.flush();
    for (const region of this.scoper.regions()) {
      const hash = this.scoper.hash(region);
      if (hash === undefined) continue;
      const st = this.newState(this.processed);
      this.states.set(region, st);
      const head = await this.readHead(region, st).catch(() => undefined);
      if (head && head.hash === hash) {
        st.version = head.version;
        continue;
      }
      await this.safely(region, st, () => this.sendSnapshot(region, st));
    }
  }

  private async publishChanges(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const changed = this.scoper.flush();
    for (const [region, changes] of changed) {
      let st = this.states.get(region);
      if (!st) {
        st = this.newState(this.processed);
        this.states.set(region, st);
        st.base = { version: 0, hash: '' }; // a new region starts with a snapshot
      } else if (!st.base) {
        st.base = { version: st.version, hash: st.stats.head?.hash ?? '' };
      }
      mergeChanges(st.pending, changes);
      st.version = this.processed;
    }
    for (const [region, st] of this.states) {
      if (!st.base) continue; // nothing pending
      st.version = this.processed; // the pending view as of everything processed so far
      const s = st;
      await this.safely(region, st, () => this.publishPending(region, s));
    }
  }

  /** Publishes a region's pending changes: a delta when the stream ends where they begin, else a snapshot. */
  private async publishPending(region: string, st: RegionState): Promise<PublishResult | undefined> {
    const hash = this.scoper.hash(region)!;
    if (!st.stats.head) await this.readHead(region, st);
    const head = st.stats.head;
    const base = st.base!;
    if (head && head.hash === hash) {
      // Already there (another replica published it, or the changes cancelled out).
      st.version = head.version;
      this.settle(st);
      return undefined;
    }
    // Another replica is ahead of us in the config history: publishing now would take the
    // region back in time. Our watch will catch up and the next flush continues from there.
    if (head && head.version > st.version) return undefined;
    const chainable = head && head.version === base.version && head.hash === base.hash && base.hash !== '';
    if (!chainable || st.deltasSinceSnapshot >= this.keyframeEvery) return this.sendSnapshot(region, st);
    const ops = opsFromChanges(st.pending);
    const msgs = await encodeDelta(region, base.version, st.version, hash, ops, this.encodeOpts(st));
    return this.send(region, st, msgs, 'delta');
  }

  private async sendSnapshot(region: string, st: RegionState): Promise<PublishResult> {
    const resources = this.scoper.resources(region)!;
    const msgs = await encodeSnapshot(
      region,
      st.version,
      this.scoper.hash(region)!,
      resources,
      this.encodeOpts(st),
    );
    return this.send(region, st, msgs, 'snapshot');
  }

  private encodeOpts(st: RegionState) {
    const { chunkSize, compressionLevel } = this.deps.options;
    return {
      codec: st.codec,
      chunkSize,
      ...(compressionLevel === undefined ? {} : { level: compressionLevel }),
    };
  }

  private async send(
    region: string,
    st: RegionState,
    msgs: OutgoingMessage[],
    kind: 'delta' | 'snapshot',
    attempt = 1,
  ): Promise<PublishResult> {
    const expected = st.stats.head?.seq ?? 0;
    const hash = this.scoper.hash(region)!;
    try {
      const res = await this.deps.publisher.publish(region, msgs, expected);
      const rawBytes = msgs[0]?.meta.rawSize ?? 0;
      st.stats.head = { seq: res.lastSeq, version: st.version, hash };
      st.stats.bytesSent += res.bytes;
      st.stats.rawBytes += rawBytes;
      st.stats.messagesSent += msgs.length;
      if (kind === 'delta') {
        st.stats.deltasSent++;
        st.deltasSinceSnapshot++;
      } else {
        st.stats.snapshotsSent++;
        st.deltasSinceSnapshot = 0;
      }
      st.stats.lastPublishedAt = new Date();
      delete st.stats.lastError;
      this.settle(st);
      this.deps.onPublished?.(region, kind, res, rawBytes, msgs);
      this.log.debug(
        { region, kind, version: st.version, bytes: res.bytes, messages: msgs.length },
        'published',
      );
      return res;
    } catch (err) {
      if (!isFedmeshError(err, ErrorCode.RevisionMismatch)) throw err;
      // Another hub replica advanced the chain. If it already says what we would, or is ahead
      // of us, adopt its head (we will catch up as we process the same changes); otherwise a
      // snapshot on top of its head is valid whatever it published.
      const head = await this.readHead(region, st);
      // A snapshot must really be on the stream (an agent is told to start at it): retry it
      // on the new head rather than adopting whatever the other replica published.
      if (kind === 'delta' && head && (head.hash === hash || head.version > st.version)) {
        if (head.hash === hash) st.version = head.version;
        this.settle(st);
        return { firstSeq: head.seq, lastSeq: head.seq, bytes: 0, duplicate: true };
      }
      if (head && head.version > st.version) {
        throw new FedmeshError(ErrorCode.Unavailable, `this hub is behind the stream of ${region}`, {
          details: { behind: true },
        });
      }
      if (attempt >= MAX_PUBLISH_ATTEMPTS) throw err;
      const snap = await encodeSnapshot(
        region,
        st.version,
        hash,
        this.scoper.resources(region)!,
        this.encodeOpts(st),
      );
      return this.send(region, st, snap, 'snapshot', attempt + 1);
    }
  }

  private settle(st: RegionState): void {
    st.pending.clear();
    delete st.base;
  }

  private async readHead(region: string, st: RegionState): Promise<StreamHead | undefined> {
    const head = await this.deps.publisher.head(region);
    if (head) st.stats.head = head;
    else delete st.stats.head;
    return head;
  }

  private async safely<T>(region: string, st: RegionState, task: () => Promise<T>): Promise<T | undefined> {
    try {
      return await task();
    } catch (err) {
      st.stats.lastError = (err as Error).message;
      // The head is re-read before the next attempt; pending changes are kept for it.
      delete st.stats.head;
      st.base ??= { version: st.version, hash: '' };
      this.log.error({ err, region }, 'cannot publish region view; retrying');
      this.scheduleRetry();
      return undefined;
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.abort.signal.aborted) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.dirty = true;
      this.enqueue(() => this.publishChanges()).catch((err) => this.log.error({ err }, 'retry failed'));
    }, this.deps.options.retryMs ?? 2000);
  }
}

/** Folds newer changes into older pending ones, keeping the oldest `before` of each key. */
function mergeChanges(into: RegionChanges, from: RegionChanges): void {
  for (const [key, c] of from) {
    const prior = into.get(key);
    into.set(key, prior ? { before: prior.before, after: c.after } : c);
  }
}

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
  type ViewResource,
  viewHash,
  viewKey,
} from '@fedmesh/shared';
import { scopeRegion } from '../scope/index.js';
import type { ConfigChange, ConfigStore } from '../store/index.js';
import { diffResources } from './delta.js';
import { encodeDelta, encodeSnapshot, type OutgoingMessage } from './encoder.js';
import type { StreamHead, SyncPublisher } from './publisher.js';

export interface SyncEngineOptions {
  /** Quiet time after a change before publishing, so a burst becomes one delta per region. */
  debounceMs: number;
  /** Longest a change may wait under a continuous burst. */
  maxWaitMs: number;
  chunkSize: number;
  compressionLevel?: number;
  /** Delay before retrying a publication that failed (NATS down, stream full). */
  retryMs?: number;
}

export interface RegionSyncStats {
  /** Bytes put on the region's subject (payload and headers) since the hub started. */
  bytesSent: number;
  messagesSent: number;
  snapshotsSent: number;
  deltasSent: number;
  lastPublishedAt?: Date;
  lastError?: string;
  /** Stream head: what the region's chain says, as last published or read. */
  head?: StreamHead;
}

export interface SyncEngine {
  /** Loads the config, reads every region's stream head and publishes what is out of date. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The view a region should hold now (after pending changes are flushed). */
  view(region: string): RegionView | undefined;
  regions(): string[];
  stats(region: string): RegionSyncStats | undefined;
  /** A resource as the engine last saw it in the config (for reference checks). */
  resource(ref: ResourceRef): Resource | undefined;
  /** Config revision the engine has processed. */
  revision(): number;
  /** Publishes a full snapshot of the region's view; returns the stream sequence of its first message. */
  publishSnapshot(region: string): Promise<{ seq: number; version: number; hash: string }>;
  /** Publishes pending changes now (tests, shutdown). */
  flush(): Promise<void>;
  /** Sets the codecs a region accepts (from its agent's status reports). */
  setAcceptedCodecs(region: string, codecs: readonly string[]): void;
}

export interface SyncEngineDeps {
  store: ConfigStore;
  publisher: SyncPublisher;
  logger: Logger;
  options: SyncEngineOptions;
}

export function createSyncEngine(deps: SyncEngineDeps): SyncEngine {
  return new Engine(deps);
}

interface RegionState {
  view: RegionView;
  stats: RegionSyncStats;
  codec: Codec;
}

class Engine implements SyncEngine {
  private readonly resources = new Map<string, Resource>();
  private readonly regionsState = new Map<string, RegionState>();
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

  constructor(private readonly deps: SyncEngineDeps) {
    this.log = deps.logger.child({ component: 'sync' });
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
    return this.regionsState.get(region)?.view;
  }

  regions(): string[] {
    return [...this.regionsState.keys()].sort();
  }

  stats(region: string): RegionSyncStats | undefined {
    return this.regionsState.get(region)?.stats;
  }

  revision(): number {
    return this.processed;
  }

  resource(ref: ResourceRef): Resource | undefined {
    return this.resources.get(viewKey(ref.kind, ref.namespace, ref.name));
  }

  setAcceptedCodecs(region: string, codecs: readonly string[]): void {
    const st = this.regionsState.get(region);
    if (st) st.codec = negotiateCodec(codecs);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return this.enqueue(() => this.publishChanges());
  }

  publishSnapshot(region: string): Promise<{ seq: number; version: number; hash: string }> {
    return this.enqueue(async () => {
      await this.publishChanges();
      const st = this.regionsState.get(region);
      if (!st) throw new FedmeshError(ErrorCode.NotFound, `region ${region} is not defined`);
      const head = await this.sendSnapshot(region, st);
      return { seq: head.firstSeq, version: st.view.version, hash: st.view.hash };
    });
  }

  private onChange(change: ConfigChange): void {
    const key = viewKey(change.ref.kind, change.ref.namespace, change.ref.name);
    if (change.op === 'put' && change.resource) this.resources.set(key, change.resource);
    else this.resources.delete(key);
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

  private regionNames(): string[] {
    const names = new Set(this.regionsState.keys());
    for (const r of this.resources.values()) if (r.kind === 'Region') names.add(r.metadata.name);
    return [...names].sort();
  }

  private computeView(region: string): Record<string, ViewResource> {
    return scopeRegion(region, this.resources.values());
  }

  /** At start: adopt what the stream already holds where it matches, publish where it does not. */
  private async reconcileWithStream(): Promise<void> {
    this.dirty = false;
    for (const region of this.regionNames()) {
      const resources = this.computeView(region);
      const hash = viewHash(resources);
      const head = await this.deps.publisher.head(region);
      const version = head && head.hash === hash ? head.version : this.processed;
      const st: RegionState = {
        view: { region, version, hash, resources },
        stats: { bytesSent: 0, messagesSent: 0, snapshotsSent: 0, deltasSent: 0, ...(head ? { head } : {}) },
        codec: negotiateCodec(undefined),
      };
      this.regionsState.set(region, st);
      if (!head || head.hash !== hash) await this.safely(region, () => this.sendSnapshot(region, st));
    }
  }

  private async publishChanges(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    for (const region of this.regionNames()) {
      const resources = this.computeView(region);
      const hash = viewHash(resources);
      let st = this.regionsState.get(region);
      let before: RegionView | undefined;
      if (!st) {
        st = {
          view: { region, version: this.processed, hash, resources },
          stats: { bytesSent: 0, messagesSent: 0, snapshotsSent: 0, deltasSent: 0 },
          codec: negotiateCodec(undefined),
        };
        this.regionsState.set(region, st);
      } else if (st.view.hash !== hash) {
        before = st.view;
        st.view = { region, version: this.processed, hash, resources };
      }
      const head = st.stats.head;
      if (head && head.hash === st.view.hash && head.version === st.view.version) continue;
      const region_ = st;
      await this.safely(region, () => this.publishView(region, region_, before));
    }
  }

  /** Brings the region's stream up to its view: a delta on top of `before` when the stream ends there. */
  private async publishView(region: string, st: RegionState, before: RegionView | undefined) {
    if (!st.stats.head) {
      const head = await this.deps.publisher.head(region);
      if (head) st.stats.head = head;
    }
    const head = st.stats.head;
    if (before && head && head.version === before.version && head.hash === before.hash) {
      const changed = new Set([...Object.keys(before.resources), ...Object.keys(st.view.resources)]);
      const ops = diffResources(before.resources, st.view.resources, changed);
      const msgs = await encodeDelta(region, before.version, st.view.version, st.view.hash, ops, this.encodeOpts(st));
      return this.send(region, st, msgs, 'delta');
    }
    return this.sendSnapshot(region, st);
  }

  private async sendSnapshot(region: string, st: RegionState) {
    const msgs = await encodeSnapshot(region, st.view.version, st.view.hash, st.view.resources, this.encodeOpts(st));
    return this.send(region, st, msgs, 'snapshot');
  }

  private encodeOpts(st: RegionState) {
    const { chunkSize, compressionLevel } = this.deps.options;
    return { codec: st.codec, chunkSize, ...(compressionLevel === undefined ? {} : { level: compressionLevel }) };
  }

  private async send(region: string, st: RegionState, msgs: OutgoingMessage[], kind: 'delta' | 'snapshot') {
    const expected = st.stats.head?.seq ?? 0;
    try {
      const res = await this.deps.publisher.publish(region, msgs, expected);
      st.stats.head = { seq: res.lastSeq, version: st.view.version, hash: st.view.hash };
      st.stats.bytesSent += res.bytes;
      st.stats.messagesSent += msgs.length;
      if (kind === 'delta') st.stats.deltasSent++;
      else st.stats.snapshotsSent++;
      st.stats.lastPublishedAt = new Date();
      delete st.stats.lastError;
      this.log.debug(
        { region, kind, version: st.view.version, bytes: res.bytes, messages: msgs.length, duplicate: res.duplicate },
        'published',
      );
      return res;
    } catch (err) {
      if (!isFedmeshError(err, ErrorCode.RevisionMismatch)) throw err;
      // Another hub replica advanced the chain. If it already says what we would, adopt it;
      // otherwise a snapshot on top of its head is valid whatever it published.
      const head = await this.deps.publisher.head(region);
      if (head) st.stats.head = head;
      if (head && head.hash === st.view.hash) {
        st.view = { ...st.view, version: head.version };
        return { firstSeq: head.seq, lastSeq: head.seq, bytes: 0, duplicate: true };
      }
      const snap = await encodeSnapshot(region, st.view.version, st.view.hash, st.view.resources, this.encodeOpts(st));
      const res = await this.deps.publisher.publish(region, snap, head?.seq ?? 0);
      st.stats.head = { seq: res.lastSeq, version: st.view.version, hash: st.view.hash };
      st.stats.bytesSent += res.bytes;
      st.stats.snapshotsSent++;
      return res;
    }
  }

  private async safely<T>(region: string, task: () => Promise<T>): Promise<T | undefined> {
    const st = this.regionsState.get(region);
    try {
      return await task();
    } catch (err) {
      if (st) {
        st.stats.lastError = (err as Error).message;
        // The head is re-read before the next attempt; until then the region counts as unpublished.
        delete st.stats.head;
      }
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

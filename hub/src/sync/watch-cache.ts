import {
  ErrorCode,
  FedmeshError,
  type Logger,
  type Resource,
  type ResourceRef,
  refOf,
  viewKey,
} from '@fedmesh/shared';
import type { ConfigChange, ConfigStore } from '../store/index.js';

/** How long a list waits for the cache to catch up with a write it must include. */
const LIST_CATCH_UP_MS = 2_000;

/**
 * How often the watch is held against the store, and how long it may stand still behind it.
 *
 * Why: the store's watch is an ordered consumer, hosted by one server of the cluster. When that
 * server dies, nats.js notices only after two missed idle heartbeats and recreates the consumer
 * with heartbeats 30 s apart; a second loss while the cluster settles is noticed a minute later.
 * Meanwhile writes are acknowledged and the hub publishes nothing: the consumer-failover test
 * saw a hub stand still for over 45 s after a member's kill -9, with no error anywhere. The hub
 * knows where the store stands, so a watch behind it that has not moved for `WATCH_STALL_MS` is
 * ended and started again right after the last revision it delivered.
 */
export const WATCH_CHECK_MS = 1_000;
export const WATCH_STALL_MS = 3_000;

export interface ListedResource {
  resource: Resource;
  /** Revision of the resource's last write. */
  revision: number;
}

/**
 * The config as the hub's watch has seen it. REST lists read it rather than the store so that a
 * list and the views the hub publishes come from the same history.
 */
export interface ConfigWatchCache {
  /** Starts watching; resolves once the config that existed at the call has been delivered. */
  start(): Promise<void>;
  stop(): Promise<void>;
  resource(ref: ResourceRef): Resource | undefined;
  /** The resource with the revision of its last write. */
  stored(ref: ResourceRef): ListedResource | undefined;
  /** Every resource of the current config, in no particular order. */
  resources(): IterableIterator<Resource>;
  /** The highest config revision seen. */
  revision(): number;
  /** Times the watch stood still behind the store (or ended) and was started again. */
  rewatches(): number;
  /**
   * Waits (up to LIST_CATCH_UP_MS) until the cache holds every write the store had when called:
   * a read that must be current (GET .../view after a PUT) sees that PUT. Resolves either way.
   */
  catchUp(): Promise<void>;
  /** Resources matching `filter`, once the cache has seen revision `atLeast` (sorted by kind, namespace, name). */
  list(filter: { kind?: string; namespace?: string }, atLeast: number): Promise<ListedResource[]>;
}

export interface ConfigWatchCacheDeps {
  store: ConfigStore;
  logger: Logger;
  /**
   * Told of every change after the cache has taken it, with the key the scoper uses, so a reader
   * woken by it sees the change. `initial` is true for the config delivered before `start` resolves.
   */
  onChange?: (key: string, resource: Resource | undefined, initial: boolean) => void;
  /** The stall check's timing (tests shorten it). */
  watchCheckMs?: number;
  watchStallMs?: number;
}

export function createConfigWatchCache(deps: ConfigWatchCacheDeps): ConfigWatchCache {
  return new WatchCache(deps);
}

class WatchCache implements ConfigWatchCache {
  private readonly entries = new Map<string, ListedResource>();
  private processed = 0;
  private ready = false;
  private stopped = false;
  /** Ends the watch in progress: on a rewatch, or on stop. */
  private current = new AbortController();
  private loop: Promise<void> | undefined;
  private checker: NodeJS.Timeout | undefined;
  private checking = false;
  /** When `processed` last moved, or the store was last seen no further than it. */
  private movedAt = Date.now();
  private restarts = 0;

  constructor(private readonly deps: ConfigWatchCacheDeps) {}

  /**
   * Rejects when the watch ends before the config has been delivered (JetStream not answering,
   * the stream leader gone): start-up retries it. It used to wait for a ready that never came.
   * Calling it again after a rejection replays the config over what the failed attempt took.
   */
  async start(): Promise<void> {
    let ready!: () => void;
    let failed!: (err: Error) => void;
    const readyP = new Promise<void>((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    this.current = new AbortController();
    const changes = this.deps.store.watch({
      onReady: () => {
        this.ready = true;
        ready();
      },
      signal: this.current.signal,
    });
    this.loop = (async () => {
      try {
        for await (const change of changes) this.take(change);
        if (!this.ready) failed(new Error('the config watch ended before the config was delivered'));
      } catch (err) {
        if (!this.ready) failed(err as Error);
        else if (!this.stopped) this.log().warn({ err }, 'config watch ended; the stall check watches again');
      }
    })();
    await readyP;
    this.movedAt = Date.now();
    this.checker ??= setInterval(() => void this.check(), this.deps.watchCheckMs ?? WATCH_CHECK_MS);
    this.checker.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.checker);
    this.current.abort();
    await this.loop;
  }

  rewatches(): number {
    return this.restarts;
  }

  async catchUp(): Promise<void> {
    await this.reach(await this.deps.store.revision().catch(() => 0));
  }

  /** Waits up to LIST_CATCH_UP_MS for the cache to have processed `revision`; says whether it has. */
  private async reach(revision: number): Promise<boolean> {
    const deadline = Date.now() + LIST_CATCH_UP_MS;
    while (this.processed < revision) {
      if (Date.now() > deadline || this.stopped) return false;
      await new Promise((r) => setTimeout(r, 5));
    }
    return true;
  }

  /** Holds the watch against the store: behind it and still for too long, it is started again. */
  private async check(): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const head = await this.deps.store.revision();
      if (head <= this.processed) this.movedAt = Date.now();
      else if (Date.now() - this.movedAt >= (this.deps.watchStallMs ?? WATCH_STALL_MS)) this.rewatch(head);
    } catch {
      // The store does not answer: nothing to hold the watch against until it does.
    } finally {
      this.checking = false;
    }
  }

  /** Ends the watch in progress and follows the store again right after the last revision taken. */
  private rewatch(head: number): void {
    if (this.stopped) return;
    this.restarts++;
    this.movedAt = Date.now();
    this.log().warn(
      { revision: this.processed, storeRevision: head },
      'config watch stood still behind the store; watching again after the last revision taken',
    );
    this.current.abort();
    const previous = this.loop;
    const abort = new AbortController();
    this.current = abort;
    this.loop = (async () => {
      await previous;
      if (abort.signal.aborted) return;
      try {
        const changes = this.deps.store.watch({ afterRevision: this.processed, signal: abort.signal });
        for await (const change of changes) this.take(change);
      } catch (err) {
        if (!abort.signal.aborted)
          this.log().warn({ err }, 'config watch ended; the stall check watches again');
      }
    })();
  }

  private log(): Logger {
    return this.deps.logger.child({ component: 'sync' });
  }

  resource(ref: ResourceRef): Resource | undefined {
    return this.stored(ref)?.resource;
  }

  stored(ref: ResourceRef): ListedResource | undefined {
    return this.entries.get(viewKey(ref.kind, ref.namespace, ref.name));
  }

  *resources(): IterableIterator<Resource> {
    for (const e of this.entries.values()) yield e.resource;
  }

  revision(): number {
    return this.processed;
  }

  async list(filter: { kind?: string; namespace?: string }, atLeast: number): Promise<ListedResource[]> {
    if (!(await this.reach(atLeast))) {
      throw new FedmeshError(
        ErrorCode.Unavailable,
        `config cache is behind the store (${this.processed} < ${atLeast})`,
      );
    }
    const out: ListedResource[] = [];
    for (const e of this.entries.values()) {
      if (filter.kind && e.resource.kind !== filter.kind) continue;
      if (filter.namespace && refOf(e.resource).namespace !== filter.namespace) continue;
      out.push({ resource: e.resource, revision: e.revision });
    }
    return out.sort(
      (a, b) =>
        a.resource.kind.localeCompare(b.resource.kind) ||
        (a.resource.metadata.namespace ?? '').localeCompare(b.resource.metadata.namespace ?? '') ||
        a.resource.metadata.name.localeCompare(b.resource.metadata.name),
    );
  }

  private take(change: ConfigChange): void {
    // A rewatch may hand over again what the watch before it delivered last.
    if (this.ready && change.revision <= this.processed) return;
    if (change.revision > this.processed) this.movedAt = Date.now();
    const key = viewKey(change.ref.kind, change.ref.namespace, change.ref.name);
    const resource = change.op === 'put' ? change.resource : undefined;
    if (resource) this.entries.set(key, { resource, revision: change.revision });
    else this.entries.delete(key);
    this.processed = Math.max(this.processed, change.revision);
    this.deps.onChange?.(key, resource, !this.ready);
  }
}

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
  /** Every resource of the current config, in no particular order. */
  resources(): IterableIterator<Resource>;
  /** The highest config revision seen. */
  revision(): number;
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
}

export function createConfigWatchCache(deps: ConfigWatchCacheDeps): ConfigWatchCache {
  return new WatchCache(deps);
}

class WatchCache implements ConfigWatchCache {
  private readonly entries = new Map<string, ListedResource>();
  private processed = 0;
  private ready = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;

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
    const changes = this.deps.store.watch({
      onReady: () => {
        this.ready = true;
        ready();
      },
      signal: this.abort.signal,
    });
    this.loop = (async () => {
      try {
        for await (const change of changes) this.take(change);
        if (!this.ready) failed(new Error('the config watch ended before the config was delivered'));
      } catch (err) {
        if (!this.ready) failed(err as Error);
        else if (!this.abort.signal.aborted) {
          this.deps.logger.child({ component: 'sync' }).error({ err }, 'config watch ended');
        }
      }
    })();
    await readyP;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  resource(ref: ResourceRef): Resource | undefined {
    return this.entries.get(viewKey(ref.kind, ref.namespace, ref.name))?.resource;
  }

  *resources(): IterableIterator<Resource> {
    for (const e of this.entries.values()) yield e.resource;
  }

  revision(): number {
    return this.processed;
  }

  async list(filter: { kind?: string; namespace?: string }, atLeast: number): Promise<ListedResource[]> {
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
    const key = viewKey(change.ref.kind, change.ref.namespace, change.ref.name);
    const resource = change.op === 'put' ? change.resource : undefined;
    if (resource) this.entries.set(key, { resource, revision: change.revision });
    else this.entries.delete(key);
    this.processed = Math.max(this.processed, change.revision);
    this.deps.onChange?.(key, resource, !this.ready);
  }
}

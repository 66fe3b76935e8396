import { configKey, ErrorCode, FedmeshError, type Resource, type ResourceRef, refOf } from '@fedmesh/shared';
import { compareRefs } from './kv.js';
import type { ConfigChange, ConfigStore, ListFilter, StoredResource } from './types.js';

/**
 * In-memory config store with the same semantics as the KV store (global revisions, CAS,
 * history, watch). Used by unit tests and by the benchmark's model mode.
 */
export function createMemoryConfigStore(opts: { history?: number } = {}): ConfigStore {
  return new MemoryConfigStore(opts.history ?? 64);
}

class MemoryConfigStore implements ConfigStore {
  private rev = 0;
  private readonly current = new Map<string, StoredResource>();
  private readonly log: ConfigChange[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(private readonly historyDepth: number) {}

  async get(ref: ResourceRef): Promise<StoredResource | undefined> {
    const s = this.current.get(keyOf(ref));
    return s && structuredClone(s);
  }

  async list(filter: ListFilter = {}): Promise<StoredResource[]> {
    return [...this.current.values()]
      .filter((s) => {
        const r = refOf(s.resource);
        return (
          (!filter.kind || r.kind === filter.kind) && (!filter.namespace || r.namespace === filter.namespace)
        );
      })
      .map((s) => structuredClone(s))
      .sort((a, b) => compareRefs(refOf(a.resource), refOf(b.resource)));
  }

  async create(resource: Resource): Promise<number> {
    const ref = refOf(resource);
    if (this.current.has(keyOf(ref))) {
      throw new FedmeshError(ErrorCode.AlreadyExists, `${describe(ref)} already exists`);
    }
    return this.write(resource);
  }

  async update(resource: Resource, expectedRevision: number): Promise<number> {
    const ref = refOf(resource);
    this.expect(ref, expectedRevision);
    return this.write(resource);
  }

  async put(resource: Resource): Promise<number> {
    return this.write(resource);
  }

  async delete(ref: ResourceRef, expectedRevision?: number): Promise<number> {
    const s = this.expect(ref, expectedRevision);
    this.current.delete(keyOf(ref));
    return this.append({ op: 'delete', ref: refOf(s.resource), revision: ++this.rev, time: new Date() });
  }

  async history(ref: ResourceRef): Promise<ConfigChange[]> {
    const key = keyOf(ref);
    return this.log
      .filter((c) => keyOf(c.ref) === key)
      .slice(-this.historyDepth)
      .map((c) => structuredClone(c));
  }

  async *watch(opts: {
    afterRevision?: number;
    onReady?: () => void;
    signal?: AbortSignal;
  }): AsyncIterable<ConfigChange> {
    let after = opts.afterRevision ?? 0;
    const target = this.rev;
    let ready = false;
    if (after === 0) {
      // Like a KV watch: the latest write of every live key, then every change after that.
      const latest = new Map<string, ConfigChange>();
      for (const c of this.log) latest.set(keyOf(c.ref), c);
      for (const c of [...latest.values()].sort((a, b) => a.revision - b.revision)) {
        if (c.op === 'put') yield structuredClone(c);
      }
      after = target;
    }
    while (!opts.signal?.aborted) {
      for (const c of this.log) {
        if (c.revision > after) {
          after = c.revision;
          yield structuredClone(c);
        }
      }
      if (!ready && after >= target) {
        ready = true;
        opts.onReady?.();
      }
      // The consumer may have aborted while handling a yielded change: an abort event that has
      // already fired never fires again, so waiting for it would hang the watch forever.
      if (opts.signal?.aborted) break;
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.listeners.delete(wake);
          opts.signal?.removeEventListener('abort', wake);
          resolve();
        };
        this.listeners.add(wake);
        opts.signal?.addEventListener('abort', wake, { once: true });
      });
    }
  }

  async revision(): Promise<number> {
    return this.rev;
  }

  private expect(ref: ResourceRef, expectedRevision: number | undefined): StoredResource {
    const s = this.current.get(keyOf(ref));
    if (!s) throw new FedmeshError(ErrorCode.NotFound, `${describe(ref)} not found`);
    if (expectedRevision !== undefined && s.revision !== expectedRevision) {
      throw new FedmeshError(
        ErrorCode.RevisionMismatch,
        `${describe(ref)} is at revision ${s.revision}, not ${expectedRevision}`,
        { details: { currentRevision: s.revision } },
      );
    }
    return s;
  }

  private write(resource: Resource): number {
    const ref = refOf(resource);
    const revision = ++this.rev;
    this.current.set(keyOf(ref), { resource: structuredClone(resource), revision });
    return this.append({ op: 'put', ref, revision, time: new Date(), resource: structuredClone(resource) });
  }

  private append(change: ConfigChange): number {
    this.log.push(change);
    for (const wake of [...this.listeners]) wake();
    return change.revision;
  }
}

function keyOf(ref: ResourceRef): string {
  return configKey(ref.kind, ref.namespace, ref.name);
}

function describe(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

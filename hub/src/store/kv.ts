import {
  CONFIG_BUCKET,
  configKey,
  ErrorCode,
  FedmeshError,
  parseConfigKey,
  type Resource,
  type ResourceRef,
  refOf,
} from '@fedmesh/shared';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { JetStreamApiCodes, JetStreamApiError, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { headers } from '@nats-io/transport-node';
import { compactResource } from './compact.js';
import type { ConfigChange, ConfigStore, ListFilter, StoredResource } from './types.js';

export interface KvConfigStoreOptions {
  bucket?: string;
  /** Writes kept per key for `history` (JetStream caps this at 64). */
  history?: number;
  replicas?: number;
}

/**
 * Config store on a JetStream KV bucket. The KV revision (stream sequence) is the config
 * revision, so every hub replica watching the bucket sees the same ordered history.
 */
export async function createKvConfigStore(
  nc: NatsConnection,
  opts: KvConfigStoreOptions = {},
): Promise<ConfigStore> {
  const bucket = opts.bucket ?? CONFIG_BUCKET;
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const kv = await new Kvm(js).create(bucket, { history: opts.history ?? 64, replicas: opts.replicas ?? 1 });
  // Headers ride in the same message; keep room for them under the server's max_payload.
  const maxValueBytes = (nc.info?.max_payload ?? 1024 * 1024) - 1024;
  return new KvConfigStore(kv, js, jsm, bucket, maxValueBytes);
}

class KvConfigStore implements ConfigStore {
  constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly bucket: string,
    private readonly maxValueBytes: number,
  ) {}

  /** A value NATS would refuse is the client's problem (413), not a store outage (503). */
  private encode(resource: Resource): Uint8Array {
    const data = encode(resource);
    if (data.length > this.maxValueBytes) {
      throw new FedmeshError(
        ErrorCode.PayloadTooLarge,
        `${describe(refOf(resource))} is ${data.length} bytes as JSON; the config store takes at most ${this.maxValueBytes}`,
      );
    }
    return data;
  }

  private get streamName(): string {
    return `KV_${this.bucket}`;
  }

  async get(ref: ResourceRef): Promise<StoredResource | undefined> {
    const e = await this.kv.get(keyOf(ref)).catch((err) => {
      throw unavailable(err);
    });
    if (e?.operation !== 'PUT') return undefined;
    return { resource: decode(e), revision: e.revision };
  }

  async list(filter: ListFilter = {}): Promise<StoredResource[]> {
    const pattern = `${filter.kind ?? '*'}.${filter.namespace ?? '*'}.*`;
    const out: StoredResource[] = [];
    // A watch of last values is one consumer round trip, unlike keys() followed by a get per key.
    // Deletion markers are not ignored here: the replay must end on an entry with nothing pending.
    if (!(await this.hasSubjects(pattern))) return out;
    const it = await this.kv.watch({ key: pattern }).catch((err) => {
      throw unavailable(err);
    });
    for await (const e of it) {
      if (e.operation === 'PUT') out.push({ resource: decode(e), revision: e.revision });
      if (e.delta === 0) break;
    }
    it.stop();
    return out.sort((a, b) => compareRefs(refOf(a.resource), refOf(b.resource)));
  }

  async create(resource: Resource): Promise<number> {
    const ref = refOf(resource);
    try {
      return await this.kv.create(keyOf(ref), this.encode(resource));
    } catch (err) {
      if (isWrongLastSequence(err)) {
        throw new FedmeshError(ErrorCode.AlreadyExists, `${describe(ref)} already exists`, { cause: err });
      }
      throw unavailable(err);
    }
  }

  async update(resource: Resource, expectedRevision: number): Promise<number> {
    const ref = refOf(resource);
    try {
      return await this.kv.update(keyOf(ref), this.encode(resource), expectedRevision);
    } catch (err) {
      if (isWrongLastSequence(err)) throw await this.staleOrMissing(ref, expectedRevision, err);
      throw unavailable(err);
    }
  }

  async put(resource: Resource): Promise<number> {
    try {
      return await this.kv.put(keyOf(refOf(resource)), this.encode(resource));
    } catch (err) {
      throw unavailable(err);
    }
  }

  async delete(ref: ResourceRef, expectedRevision?: number): Promise<number> {
    const current = await this.get(ref);
    if (!current) throw notFound(ref);
    const expected = expectedRevision ?? current.revision;
    // Published by hand rather than kv.delete() so that the revision of the deletion is known.
    const h = headers();
    h.set('KV-Operation', 'DEL');
    try {
      const ack = await this.js.publish(`$KV.${this.bucket}.${keyOf(ref)}`, new Uint8Array(0), {
        headers: h,
        expect: { lastSubjectSequence: expected },
      });
      return ack.seq;
    } catch (err) {
      if (isWrongLastSequence(err)) throw await this.staleOrMissing(ref, expected, err);
      throw unavailable(err);
    }
  }

  async history(ref: ResourceRef): Promise<ConfigChange[]> {
    const out: ConfigChange[] = [];
    if (!(await this.hasSubjects(keyOf(ref)))) return out;
    const it = await this.kv.history({ key: keyOf(ref) }).catch((err) => {
      throw unavailable(err);
    });
    for await (const e of it) {
      out.push(toChange(e));
      if (e.delta === 0) break;
    }
    it.stop();
    return out;
  }

  /**
   * From the start (no `afterRevision`) the watch first replays the last value of every key: the
   * config. That replay is read from one replica, the one the server placed the watch's consumer
   * on, and a replica that is rebuilding its store (a member restarted, catching up from a raft
   * snapshot) has some keys and not others. The chaos suite saw a hub start on such a replay: a
   * view missing most of its resources, published as the store's revision, next to the other
   * replica's view of that revision (two hashes for one version). So the replay is held against
   * the store: it is complete only when it has named as many keys as the stream has subjects
   * (every key keeps its last message, a deleted one its tombstone); if the revision the store
   * stood at is reached first, the watch fails, and the caller watches again.
   */
  async *watch(opts: {
    afterRevision?: number;
    onReady?: () => void;
    signal?: AbortSignal;
  }): AsyncIterable<ConfigChange> {
    const after = opts.afterRevision ?? 0;
    const { revision: target, keys } = await this.state();
    const it = await this.kv.watch(after > 0 ? { resumeFromRevision: after + 1 } : {});
    const abort = () => it.stop();
    opts.signal?.addEventListener('abort', abort, { once: true });
    if (opts.signal?.aborted) it.stop(); // aborted while the watch was being set up
    let ready = false;
    const markReady = () => {
      if (!ready) {
        ready = true;
        opts.onReady?.();
      }
    };
    if (target <= after) markReady();
    const replayed = new Set<string>();
    try {
      for await (const e of it) {
        const change = toChange(e);
        if (!ready && after === 0) {
          replayed.add(e.key);
          if (change.revision >= target && replayed.size < keys) {
            throw new FedmeshError(
              ErrorCode.Unavailable,
              `the config watch replayed ${replayed.size} of the ${keys} keys the store holds by revision ${target}: it reads a replica that is not current`,
            );
          }
        }
        yield change;
        if (change.revision >= target) markReady();
      }
    } finally {
      opts.signal?.removeEventListener('abort', abort);
      it.stop();
    }
  }

  async revision(): Promise<number> {
    return (await this.state()).revision;
  }

  /** The last revision, and how many keys (subjects) the bucket's stream holds, as its leader says. */
  private async state(): Promise<{ revision: number; keys: number }> {
    const si = await this.jsm.streams.info(this.streamName).catch((err) => {
      throw unavailable(err);
    });
    return { revision: si.state.last_seq, keys: si.state.num_subjects ?? 0 };
  }

  /** Whether any key matches, so that a replay which would never yield can be skipped. */
  private async hasSubjects(keyPattern: string): Promise<boolean> {
    try {
      const si = await this.jsm.streams.info(this.streamName, {
        subjects_filter: `$KV.${this.bucket}.${keyPattern}`,
      });
      return Object.keys(si.state.subjects ?? {}).length > 0;
    } catch (err) {
      throw unavailable(err);
    }
  }

  private async staleOrMissing(ref: ResourceRef, expected: number, cause: unknown): Promise<FedmeshError> {
    const current = await this.get(ref);
    if (!current) return notFound(ref);
    return new FedmeshError(
      ErrorCode.RevisionMismatch,
      `${describe(ref)} is at revision ${current.revision}, not ${expected}`,
      { cause, details: { currentRevision: current.revision } },
    );
  }
}

function keyOf(ref: ResourceRef): string {
  return configKey(ref.kind, ref.namespace, ref.name);
}

function encode(resource: Resource): Uint8Array {
  // Buffer.from takes small texts from Node's pool; TextEncoder allocates a buffer per call.
  return Buffer.from(JSON.stringify(resource));
}

function decode(e: KvEntry): Resource {
  return compactResource(e.json<Resource>());
}

function toChange(e: KvEntry): ConfigChange {
  const parsed = parseConfigKey(e.key) as ResourceRef | undefined;
  if (!parsed) throw new FedmeshError(ErrorCode.Internal, `unexpected key "${e.key}" in the config bucket`);
  return e.operation === 'PUT'
    ? { op: 'put', ref: parsed, revision: e.revision, time: e.created, resource: decode(e) }
    : { op: 'delete', ref: parsed, revision: e.revision, time: e.created };
}

function isWrongLastSequence(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === JetStreamApiCodes.StreamWrongLastSequence;
  return /wrong last sequence/i.test(String((err as Error)?.message));
}

function describe(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

function notFound(ref: ResourceRef): FedmeshError {
  return new FedmeshError(ErrorCode.NotFound, `${describe(ref)} not found`);
}

function unavailable(err: unknown): FedmeshError {
  if (err instanceof FedmeshError) return err;
  return new FedmeshError(ErrorCode.Unavailable, `config store unavailable: ${(err as Error).message}`, {
    cause: err,
  });
}

export function compareRefs(a: ResourceRef, b: ResourceRef): number {
  return (
    a.kind.localeCompare(b.kind) || a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)
  );
}

import { ErrorCode, FedmeshError, type ResourceRef } from '@fedmesh/shared';
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type AuditEntry, type AuditLog, AuditOrder, type AuditQuery, DEFAULT_AUDIT_LIMIT } from './types.js';

export const AUDIT_STREAM = 'FEDMESH_AUDIT';
export const AUDIT_SUBJECT_PREFIX = 'fedmesh.audit';

export interface JetStreamAuditOptions {
  /** How long entries are kept (default 90 days). */
  maxAgeMs?: number;
  /** Upper bound on the number of entries (default one million); the oldest go first. */
  maxMessages?: number;
  replicas?: number;
}

/**
 * Writes can complete out of revision order (two requests in flight, two hub replicas), so
 * appends are only nearly sorted. Reads start this many entries before the first one known to
 * be past the cursor and sort what they collect.
 */
const REORDER_SLACK = 64;
const DAY_MS = 24 * 3600_000;
/** A read that receives nothing for this long is started again from where it stopped. */
const READ_IDLE_MS = 5_000;

/** `fedmesh.audit.<kind>.<namespace>.<name>`: one subject per resource, so its trail can be read alone. */
export function auditSubject(ref: Pick<ResourceRef, 'kind' | 'namespace' | 'name'>): string {
  return `${AUDIT_SUBJECT_PREFIX}.${ref.kind}.${ref.namespace}.${ref.name}`;
}

/**
 * The audit log on a JetStream stream of its own, so it survives hub restarts and is shared by
 * hub replicas. `Nats-Msg-Id` is the revision: a retried append is stored once.
 */
export async function createJetStreamAuditLog(
  js: JetStreamClient,
  jsm: JetStreamManager,
  opts: JetStreamAuditOptions = {},
): Promise<AuditLog> {
  const config = {
    name: AUDIT_STREAM,
    subjects: [`${AUDIT_SUBJECT_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: (opts.maxAgeMs ?? 90 * DAY_MS) * 1_000_000,
    max_msgs: opts.maxMessages ?? 1_000_000,
    num_replicas: opts.replicas ?? 1,
    duplicate_window: 2 * 60_000 * 1_000_000,
  };
  try {
    await jsm.streams.info(AUDIT_STREAM);
    await jsm.streams.update(AUDIT_STREAM, config);
  } catch (err) {
    if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    await jsm.streams.add(config);
  }
  return new JetStreamAuditLog(js, jsm);
}

class JetStreamAuditLog implements AuditLog {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
  ) {}

  async append(entry: AuditEntry): Promise<void> {
    try {
      await this.js.publish(auditSubject(entry), JSON.stringify(entry), { msgID: `rev-${entry.revision}` });
    } catch (err) {
      throw unavailable(err);
    }
  }

  async list(query: AuditQuery = {}): Promise<AuditEntry[]> {
    const since = query.since ?? 0;
    const limit = query.limit ?? DEFAULT_AUDIT_LIMIT;
    const desc = query.order === AuditOrder.Desc;
    const filter = query.ref ? auditSubject(query.ref) : `${AUDIT_SUBJECT_PREFIX}.>`;
    try {
      const range = await this.range(filter);
      if (!range) return [];
      let start =
        since > 0
          ? Math.max(range.first, (await this.firstAfter(since, range)) - REORDER_SLACK)
          : range.first;
      // The newest entries of the whole log sit in its last sequences (give or take the reorder
      // slack). One resource's cannot be found by sequence: that read goes through all of them.
      if (desc && !query.ref) start = Math.max(start, range.last - limit - REORDER_SLACK + 1);
      if (start > range.last) return [];
      const max = desc ? Number.POSITIVE_INFINITY : limit + REORDER_SLACK;
      const collected = await this.read(filter, start, range.last, since, max);
      return collected
        .sort((a, b) => (desc ? b.revision - a.revision : a.revision - b.revision))
        .slice(0, limit);
    } catch (err) {
      throw unavailable(err);
    }
  }

  /** First and last stream sequence that can hold a matching entry; undefined when none can. */
  private async range(filter: string): Promise<{ first: number; last: number } | undefined> {
    const si = await this.jsm.streams.info(AUDIT_STREAM);
    if (si.state.messages === 0) return undefined;
    let last = si.state.last_seq;
    if (!filter.endsWith('>')) {
      const m = await this.getMessage({ last_by_subj: filter });
      if (!m) return undefined;
      last = m.seq;
    }
    return { first: si.state.first_seq, last };
  }

  /** Binary search for the first sequence whose entry has a revision above `revision`. */
  private async firstAfter(revision: number, range: { first: number; last: number }): Promise<number> {
    let lo = range.first;
    let hi = range.last + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const m = await this.getMessage({ seq: mid });
      // Limits retention only removes from the front, so a hole means "older than anything left".
      const rev = m ? (JSON.parse(new TextDecoder().decode(m.data)) as AuditEntry).revision : 0;
      if (rev > revision) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * Entries from `start` to `last` (stream sequences). The read ends at `last`, not when a
   * message says nothing is pending: under load a fresh consumer reported `pending` 0 halfway
   * (the newest-first listing then missed the newest entries). An iteration that ends early or
   * stalls is resumed after the last sequence it delivered, so an answer is never silently short.
   */
  private async read(
    filter: string,
    start: number,
    last: number,
    since: number,
    max: number,
  ): Promise<AuditEntry[]> {
    const out: AuditEntry[] = [];
    let next = start;
    for (let attempt = 1; ; attempt++) {
      const consumer = await this.js.consumers.get(AUDIT_STREAM, {
        filter_subjects: filter,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: next,
      });
      const messages = await consumer.consume();
      let finished = false;
      let idle: NodeJS.Timeout | undefined;
      // Everything up to `last` is stored (retention only removes from the front), so a silence
      // means the consumer is stuck, not that the entries are gone.
      const arm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => void messages.close(), READ_IDLE_MS);
      };
      try {
        arm();
        for await (const m of messages) {
          arm();
          const entry = m.json<AuditEntry>();
          if (entry.revision > since) out.push(entry);
          next = m.seq + 1;
          if (m.seq >= last || out.length >= max) {
            finished = true;
            break;
          }
        }
      } finally {
        clearTimeout(idle);
        await messages.close();
      }
      if (finished || next > last) return out;
      if (attempt >= 3) throw new Error(`reading stopped at sequence ${next - 1} of ${last}`);
    }
  }

  private async getMessage(query: { seq: number } | { last_by_subj: string }) {
    try {
      return await this.jsm.streams.getMessage(AUDIT_STREAM, query);
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
      throw err;
    }
  }
}

function unavailable(err: unknown): FedmeshError {
  if (err instanceof FedmeshError) return err;
  return new FedmeshError(ErrorCode.Unavailable, `audit log unavailable: ${(err as Error).message}`, {
    cause: err,
  });
}

import { type Codec, negotiateCodec } from '@fedmesh/shared';
import type { RegionChanges } from '../scope/index.js';
import type { PublishResult, StreamHead } from './publisher.js';
import type { RegionSyncStats } from './types.js';

/** What the engine knows of one region's chain between publications. */
export interface RegionState {
  version: number;
  stats: RegionSyncStats;
  codec: Codec;
  /** Deltas published since the last snapshot. */
  deltasSinceSnapshot: number;
  /** Changes not yet on the stream, accumulated across failed attempts. */
  pending: RegionChanges;
  /** The version and hash the pending changes start from (what the stream held when they began). */
  base?: { version: number; hash: string };
  /** Bytes (payload and headers) of the last snapshot published or sized: a catch-up weighs it. */
  snapshotBytes?: number;
}

export function newRegionState(version: number): RegionState {
  return {
    version,
    stats: {
      bytesSent: 0,
      messagesSent: 0,
      snapshotsSent: 0,
      deltasSent: 0,
      rawBytes: 0,
      coalescedRounds: 0,
    },
    codec: negotiateCodec(undefined),
    deltasSinceSnapshot: 0,
    pending: new Map(),
  };
}

/**
 * Adds a flush's changes to what is pending. The first of them fixes the base; a region the
 * engine has never seen on the stream has no head, so its empty base hash can chain nothing and
 * it starts with a snapshot.
 */
export function stageChanges(st: RegionState, changes: RegionChanges): void {
  st.base ??= { version: st.version, hash: st.stats.head?.hash ?? '' };
  for (const [key, c] of changes) {
    const prior = st.pending.get(key);
    // A key changed twice goes from its oldest `before` to its newest `after`.
    st.pending.set(key, prior ? { before: prior.before, after: c.after } : c);
  }
}

/** The stream has what was pending (published, or adopted from another replica). */
export function settle(st: RegionState): void {
  st.pending.clear();
  delete st.base;
  delete st.stats.holdingSince;
}

export function setHead(st: RegionState, head: StreamHead | undefined): void {
  if (head) st.stats.head = head;
  else delete st.stats.head;
}

export function recordPublished(
  st: RegionState,
  kind: 'delta' | 'snapshot',
  res: PublishResult,
  messages: number,
  rawBytes: number,
  hash: string,
): void {
  const { stats } = st;
  stats.head = { seq: res.lastSeq, version: st.version, hash };
  countPublished(stats, kind, res, messages, rawBytes);
  if (kind === 'delta') {
    st.deltasSinceSnapshot++;
  } else {
    st.deltasSinceSnapshot = 0;
    if (!res.duplicate) st.snapshotBytes = res.bytes;
  }
  stats.lastPublishedAt = new Date();
  delete stats.lastError;
  settle(st);
}

/**
 * The region's sent figures, which `GET /v1/regions` shows and `/metrics` reads: what this hub
 * put on the region's subject. A publication JetStream recognised as a duplicate (every message's
 * Nats-Msg-Id already seen within the dedup window: the same snapshot asked for twice, or one
 * another replica published first) stored nothing and counts for nothing, as in the line ledger.
 */
export function countPublished(
  stats: RegionSyncStats,
  kind: 'delta' | 'snapshot',
  res: PublishResult,
  messages: number,
  rawBytes: number,
): void {
  if (res.duplicate) return;
  stats.bytesSent += res.bytes;
  stats.rawBytes += rawBytes;
  stats.messagesSent += messages;
  if (kind === 'delta') stats.deltasSent++;
  else stats.snapshotsSent++;
}

export function recordFailure(st: RegionState, err: unknown): void {
  st.stats.lastError = (err as Error).message;
  // The head is re-read before the next attempt; pending changes are kept for it. A base makes
  // the next flush visit the region even when nothing was pending (a snapshot at start).
  delete st.stats.head;
  st.base ??= { version: st.version, hash: '' };
}

import type { StreamHead } from './publisher.js';

/** Why the hub is looking at a region's chain. */
export const ChainAttempt = {
  /** The hub has just started and holds nothing pending: only the stream head is known. */
  Start: 'start',
  /** Pending changes are ready to go. */
  Pending: 'pending',
  /** A delta was refused because another replica advanced the chain; the head was re-read. */
  DeltaRejected: 'delta_rejected',
  /** A snapshot was refused for the same reason; the head was re-read. */
  SnapshotRejected: 'snapshot_rejected',
  /** Someone asked for a snapshot (an agent's resync): it goes on the stream unless the stream is ahead. */
  Forced: 'forced',
} as const;
export type ChainAttempt = (typeof ChainAttempt)[keyof typeof ChainAttempt];

export type ChainStep =
  /** The ops of the pending changes, on top of the head, which is where they start. */
  | { kind: 'delta'; fromVersion: number }
  | { kind: 'snapshot' }
  /** The head already says what this hub would publish: take its version, publish nothing. */
  | { kind: 'adopt'; version: number }
  /** Another replica is further along the config history: publish nothing, keep what is pending. */
  | { kind: 'behind' };

export interface ChainInput {
  attempt: ChainAttempt;
  /** What the region's subject ends with; undefined when it holds nothing (new, purged, expired). */
  head: StreamHead | undefined;
  /** The version and hash the pending changes start from; only pending attempts have one. */
  base?: { version: number; hash: string };
  /** The config revision this hub's view of the region stands at. */
  version: number;
  /** The hash of that view. */
  hash: string;
  deltasSinceSnapshot: number;
  keyframeEvery: number;
}

/**
 * What to put on a region's subject next. Pure, so that every way two replicas can race on one
 * chain is a unit test rather than a timing accident. A delta is only ever sent on top of the
 * exact view its ops start from; whatever else happened, a snapshot is valid on any head.
 */
export function decideChainStep(input: ChainInput): ChainStep {
  const { attempt, head, base, version, hash } = input;
  const same = head !== undefined && head.hash === hash;
  const ahead = head !== undefined && head.version > version;
  switch (attempt) {
    case ChainAttempt.Start:
      // The stream survives hub restarts: an agent already holding this view needs nothing new.
      return same ? { kind: 'adopt', version: head.version } : { kind: 'snapshot' };
    case ChainAttempt.Pending:
    case ChainAttempt.DeltaRejected: {
      // Another replica published it, or the changes cancelled out.
      if (same) return { kind: 'adopt', version: head.version };
      // Publishing now would take the region back in time; this hub's watch will catch up and
      // its next flush continues from there.
      if (ahead) return { kind: 'behind' };
      if (attempt === ChainAttempt.DeltaRejected) return { kind: 'snapshot' };
      // An empty base hash means the stream's content was never known (a new region, a failed
      // attempt): no delta can be proven to fit it.
      const chainable =
        head !== undefined &&
        base !== undefined &&
        base.hash !== '' &&
        head.version === base.version &&
        head.hash === base.hash;
      // A keyframe bounds the chain an agent may have to replay.
      return chainable && input.deltasSinceSnapshot < input.keyframeEvery
        ? { kind: 'delta', fromVersion: base.version }
        : { kind: 'snapshot' };
    }
    case ChainAttempt.Forced:
    case ChainAttempt.SnapshotRejected:
      // Never adopted, even when the head says the same: an agent is told to start at this
      // snapshot, so it must really be on the stream. But an older view on top of a newer one
      // would take agents back in time, and the next delta would continue from the older one.
      return ahead ? { kind: 'behind' } : { kind: 'snapshot' };
  }
}

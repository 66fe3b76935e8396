import { ErrorCode, FedmeshError, isFedmeshError, type Logger, type ViewResource } from '@fedmesh/shared';
import { ChainAttempt, type ChainInput, type ChainStep, decideChainStep } from './chain.js';
import { opsFromChanges } from './delta.js';
import { type EncodeOptions, encodeDelta, encodeSnapshot, type OutgoingMessage } from './encoder.js';
import type { PublishResult, SyncPublisher } from './publisher.js';
import { countPublished, type RegionState, recordPublished, setHead, settle } from './region-state.js';
import type { SyncEngineDeps } from './types.js';

/** Publication attempts against a chain other replicas keep advancing, before giving up for a retry later. */
const MAX_PUBLISH_ATTEMPTS = 5;

/** A region's view as it is now; the resources are only asked for by a snapshot. */
export interface CurrentView {
  hash: string;
  resources: () => Record<string, ViewResource>;
}

/** Writes one region's chain on the stream; when and which regions is the engine's business. */
export interface ChainWriter {
  /**
   * Does what the chain decision says for `attempt`, and decides again on the new head each time
   * another replica wins the race for the subject. Undefined when nothing was published.
   * Throws `unavailable` with `details.behind` when a snapshot gives way to a replica ahead.
   */
  advance(
    region: string,
    st: RegionState,
    view: CurrentView,
    attempt: ChainAttempt,
  ): Promise<PublishResult | undefined>;
  /** Reads what the region's subject ends with into the state. */
  readHead(region: string, st: RegionState): Promise<void>;
  /**
   * Publishes messages that end at the view the head already names (a coalesced catch-up
   * delta): the chain stays where it is, one message longer. Throws `unavailable` when another
   * replica moved the head meanwhile.
   */
  appendAtHead(region: string, st: RegionState, msgs: OutgoingMessage[]): Promise<PublishResult>;
}

export interface ChainWriterDeps {
  publisher: SyncPublisher;
  keyframeEvery: number;
  encoding: Omit<EncodeOptions, 'codec'>;
  onPublished?: SyncEngineDeps['onPublished'];
  log: Logger;
}

export function createChainWriter(deps: ChainWriterDeps): ChainWriter {
  return new Writer(deps);
}

export function behindStream(region: string): FedmeshError {
  return new FedmeshError(ErrorCode.Unavailable, `this hub is behind the stream of ${region}`, {
    details: { behind: true },
  });
}

class Writer implements ChainWriter {
  constructor(private readonly deps: ChainWriterDeps) {}

  async advance(
    region: string,
    st: RegionState,
    view: CurrentView,
    attempt: ChainAttempt,
  ): Promise<PublishResult | undefined> {
    let rejected: unknown;
    for (let sent = 0; ; sent++) {
      const step = decideChainStep(chainInput(st, attempt, view.hash, this.deps.keyframeEvery));
      if (step.kind === 'adopt') {
        st.version = step.version;
        settle(st);
        return undefined;
      }
      if (step.kind === 'behind') {
        // A snapshot is the answer to "the chain cannot continue" or "start me here": not
        // sending it is a failure, which the caller retries once this hub has caught up.
        if (attempt === ChainAttempt.Forced || attempt === ChainAttempt.SnapshotRejected) {
          throw behindStream(region);
        }
        return undefined;
      }
      if (sent >= MAX_PUBLISH_ATTEMPTS) throw rejected;
      const msgs = await encodeStep(region, st, step, view, { ...this.deps.encoding, codec: st.codec });
      try {
        const res = await this.deps.publisher.publish(region, msgs, st.stats.head?.seq ?? 0);
        const rawBytes = msgs[0]?.meta.rawSize ?? 0;
        recordPublished(st, step.kind, res, msgs.length, rawBytes, view.hash);
        this.deps.onPublished?.(region, step.kind, res, rawBytes, msgs);
        this.deps.log.debug(
          { region, kind: step.kind, version: st.version, bytes: res.bytes, messages: msgs.length },
          'published',
        );
        return res;
      } catch (err) {
        if (!isFedmeshError(err, ErrorCode.RevisionMismatch)) throw err;
        rejected = err;
        await this.readHead(region, st);
        attempt = step.kind === 'delta' ? ChainAttempt.DeltaRejected : ChainAttempt.SnapshotRejected;
      }
    }
  }

  async appendAtHead(region: string, st: RegionState, msgs: OutgoingMessage[]): Promise<PublishResult> {
    const head = st.stats.head;
    if (!head) throw new FedmeshError(ErrorCode.Unavailable, `the stream of ${region} has no head`);
    let res: PublishResult;
    try {
      res = await this.deps.publisher.publish(region, msgs, head.seq);
    } catch (err) {
      if (!isFedmeshError(err, ErrorCode.RevisionMismatch)) throw err;
      await this.readHead(region, st);
      throw new FedmeshError(ErrorCode.Unavailable, `the chain of ${region} moved on; ask again`);
    }
    // The dedup window may hand back an identical delta published earlier: the head stays.
    if (!res.duplicate) st.stats.head = { ...head, seq: Math.max(head.seq, res.lastSeq) };
    const rawBytes = msgs[0]?.meta.rawSize ?? 0;
    countPublished(st.stats, 'delta', res, msgs.length, rawBytes);
    this.deps.onPublished?.(region, 'delta', res, rawBytes, msgs);
    return res;
  }

  async readHead(region: string, st: RegionState): Promise<void> {
    setHead(st, await this.deps.publisher.head(region));
  }
}

/** What the chain decision needs to know of a region whose view now has `hash`. */
function chainInput(st: RegionState, attempt: ChainAttempt, hash: string, keyframeEvery: number): ChainInput {
  return {
    attempt,
    head: st.stats.head,
    ...(st.base ? { base: st.base } : {}),
    version: st.version,
    hash,
    deltasSinceSnapshot: st.deltasSinceSnapshot,
    keyframeEvery,
  };
}

/**
 * The messages of a step the chain decision chose, for the region's view as it is now. The
 * resources are asked for only by a snapshot: a delta costs the size of the change, not of the view.
 */
function encodeStep(
  region: string,
  st: RegionState,
  step: Extract<ChainStep, { kind: 'delta' | 'snapshot' }>,
  view: CurrentView,
  opts: EncodeOptions,
): Promise<OutgoingMessage[]> {
  if (step.kind === 'delta') {
    return encodeDelta(region, step.fromVersion, st.version, view.hash, opsFromChanges(st.pending), opts);
  }
  return encodeSnapshot(region, st.version, view.hash, view.resources(), opts);
}

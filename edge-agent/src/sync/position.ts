/**
 * Where the agent's durable consumer stands on the sync stream: created right after what the
 * agent consumed, or at a fresh snapshot asked for over `fedmesh.resync.<region>`.
 */
import {
  agentDurableName,
  CatchUpReason,
  type CatchUpRequest,
  ErrorCode,
  FedmeshError,
  type Logger,
  parseCatchUpReply,
  resyncSubject,
  SYNC_STREAM,
  syncSubject,
} from '@fedmesh/shared';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AgentState } from '../state/file-store.js';
import type { RegionLink } from './line.js';
import type { ChunkSpool } from './spool.js';
import type { SyncCounters } from './types.js';

export interface ConsumerPositionDeps {
  region: string;
  nc: NatsConnection;
  jsm: JetStreamManager;
  spool: ChunkSpool;
  log: Logger;
  stats: SyncCounters;
  /** What the agent holds and consumed last. */
  state: () => AgentState;
  acceptedCodecs?: readonly string[];
  /** A backlog longer than this many messages asks the hub for the cheapest way to the head. */
  catchUpAfterMessages: number;
  /** The hub announced the Region's link (with a snapshot). */
  onHint: () => void;
  /** Sync messages on the stream for this region, as the consumer reports them. */
  onPending: (messages: number) => void;
}

export interface ConsumerPosition {
  readonly durable: string;
  /** Picks up a chunked transfer a previous run left in the spool, or clears it when outdated. */
  restore(): Promise<void>;
  /** Stream sequence of the last message consumed: applied, skipped, or spooled as a chunk. */
  position(): number;
  /** The Region's link as the hub announced it, until the agent holds its own Region. */
  hint(): RegionLink | undefined;
  /**
   * Makes sure the durable consumer exists. A new one starts right after the last message this
   * agent consumed when it has state (or a spooled transfer), or at a fresh snapshot requested
   * from the hub.
   */
  ensure(): Promise<void>;
  /** The connection broke: the next `ensure` recreates the consumer at the agent's own position. */
  detach(): void;
  /**
   * With a backlog of more than `catchUpAfterMessages` (the consumer's count, or `pending` when
   * given), asks the hub whether something cheaper than replaying it reaches the head: a
   * coalesced delta or a snapshot. True when the consumer was moved to it.
   */
  catchUpIfBehind(pending?: number): Promise<boolean>;
  /** Restarts delivery right after the last message this agent consumed. */
  rewind(): Promise<void>;
  /**
   * First start, a gap, a bad message (`rejectedSeq`): asks the hub for the cheapest way to the
   * head other than the chain it could not follow, and moves the consumer there. The rejected
   * message is never handled again: the agent goes on after it, or skips it if the answer
   * starts before it.
   */
  resync(rejectedSeq?: number): Promise<void>;
  /** Messages rejected before, to acknowledge and pass over if the stream hands them back. */
  isRejected(seq: number): boolean;
}

/** Rejected sequences remembered; the oldest are forgotten first. */
const MAX_REMEMBERED_REJECTS = 64;

export function createConsumerPosition(deps: ConsumerPositionDeps): ConsumerPosition {
  return new Position(deps);
}

class Position implements ConsumerPosition {
  readonly durable: string;
  private attached = false;
  /** The version of the snapshot the consumer starts at (requested, or being resumed): its length is no reason to skip it. */
  private snapshotVersion: number | undefined;
  private link: RegionLink | undefined;
  private readonly rejected = new Set<number>();

  constructor(private readonly deps: ConsumerPositionDeps) {
    this.durable = agentDurableName(deps.region);
  }

  async restore(): Promise<void> {
    const held = this.deps.state();
    const p = await this.deps.spool.open();
    if (p && (p.meta.toVersion <= held.view.version || p.lastSeq <= held.streamSeq)) {
      await this.deps.spool.clear(); // left over from a payload the agent got past some other way
    } else if (p) {
      this.link = p.hint;
      this.deps.log.info(
        { type: p.meta.type, toVersion: p.meta.toVersion, chunk: p.chunks, of: p.meta.count },
        'a chunked transfer was interrupted; resuming at the next chunk',
      );
    }
  }

  position(): number {
    return Math.max(this.deps.state().streamSeq, this.deps.spool.progress()?.lastSeq ?? 0);
  }

  hint(): RegionLink | undefined {
    return this.link;
  }

  async ensure(): Promise<void> {
    if (this.attached) {
      try {
        await this.deps.jsm.consumers.info(SYNC_STREAM, this.durable);
        return;
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
      }
    }
    // On a (re)attach the durable is recreated at what the agent persisted: messages delivered
    // to a crashed predecessor, or to a dropped connection, but never acked would otherwise come
    // back only after the ack wait, behind newer ones.
    if (this.position() > 0) await this.rewind();
    else await this.resync();
    this.attached = true;
  }

  detach(): void {
    this.attached = false;
  }

  /**
   * An agent that was away long enough to have a backlog asks whether something cheaper than
   * replaying it gets to the head: a long history of changes to the same keys coalesces into one
   * delta, and one view can cost less than many changes. A consumer that starts at a snapshot is
   * left alone, however many chunks it has.
   */
  async catchUpIfBehind(pending?: number): Promise<boolean> {
    let queued = pending;
    if (queued === undefined) {
      const info = await this.deps.jsm.consumers.info(SYNC_STREAM, this.durable);
      queued = info.num_pending;
      this.deps.onPending(queued);
    }
    if (this.inSnapshot() || queued <= this.deps.catchUpAfterMessages) return false;
    this.deps.log.info({ pending: queued }, 'behind; asking the hub for the cheapest catch-up');
    const moved = await this.catchUp(CatchUpReason.Behind, { pending: queued });
    if (moved) this.deps.stats.catchUps++;
    return moved;
  }

  /** The consumer is in a snapshot not yet applied. */
  private inSnapshot(): boolean {
    return this.snapshotVersion !== undefined && this.deps.state().view.version < this.snapshotVersion;
  }

  isRejected(seq: number): boolean {
    return this.rejected.has(seq);
  }

  async rewind(): Promise<void> {
    const p = this.deps.spool.progress();
    this.snapshotVersion = p?.meta.type === 'snapshot' ? p.meta.toVersion : undefined;
    if (p) this.deps.stats.resumes++;
    await this.recreateConsumer(this.position() + 1);
  }

  async resync(rejectedSeq?: number): Promise<void> {
    if (rejectedSeq !== undefined) {
      this.rejected.add(rejectedSeq);
      if (this.rejected.size > MAX_REMEMBERED_REJECTS) {
        this.rejected.delete(this.rejected.values().next().value!);
      }
    }
    const held = this.deps.state().view.version > 0;
    await this.catchUp(held ? CatchUpReason.Rejected : CatchUpReason.Start, {
      ...(rejectedSeq === undefined ? {} : { after: Math.max(rejectedSeq, this.position()) }),
    });
  }

  /**
   * One catch-up exchange. When the hub answers with the very snapshot the spool is part-way
   * through (the same messages, deduplicated), the transfer goes on from the next chunk.
   */
  private async catchUp(reason: CatchUpReason, extra: Partial<CatchUpRequest>): Promise<boolean> {
    const { deps } = this;
    const view = deps.state().view;
    const request: CatchUpRequest = {
      have: view.version,
      ...(view.version > 0 ? { hash: view.hash } : {}),
      after: this.position(),
      reason,
      ...(deps.acceptedCodecs ? { codecs: [...deps.acceptedCodecs] } : {}),
      ...extra,
    };
    if (reason !== CatchUpReason.Behind) deps.stats.resyncs++;
    const reply = parseCatchUpReply(
      (await deps.nc.request(resyncSubject(deps.region), JSON.stringify(request), { timeout: 10_000 })).data,
    );
    if (reply.error || !reply.plan) {
      throw new FedmeshError(
        ErrorCode.Unavailable,
        `hub cannot answer a catch-up request: ${reply.error ?? 'no plan'}`,
      );
    }
    deps.log.info({ reason, plan: reply.plan, seq: reply.seq, bytes: reply.bytes }, 'catch-up plan');
    if (reply.plan === 'replay') {
      if (reason === CatchUpReason.Behind) return false;
      throw new FedmeshError(
        ErrorCode.Unavailable,
        'hub offered a replay of a chain the agent cannot follow',
      );
    }
    if (!reply.seq)
      throw new FedmeshError(ErrorCode.Unavailable, `hub answered ${reply.plan} without a sequence`);
    if (reply.plan === 'current') {
      // Already at the head: whatever is queued (or was rejected) adds nothing.
      await this.recreateConsumer(Math.max(reply.seq, (request.after ?? 0) + 1));
      return true;
    }
    if (reply.plan === 'delta') {
      this.snapshotVersion = undefined;
      await deps.spool.clear();
      await this.recreateConsumer(reply.seq);
      return true;
    }
    this.link = validLink(reply.link);
    deps.onHint();
    this.snapshotVersion = reply.version ?? Number.MAX_SAFE_INTEGER;
    const p = deps.spool.progress();
    if (p && p.firstSeq === reply.seq && p.meta.toHash === reply.hash) {
      deps.stats.resumes++;
      deps.log.info(
        { seq: reply.seq, chunk: p.chunks, of: p.meta.count },
        'snapshot already part-spooled; resuming',
      );
      await this.recreateConsumer(p.lastSeq + 1);
      return true;
    }
    await deps.spool.clear();
    deps.log.info({ seq: reply.seq }, 'snapshot requested');
    await this.recreateConsumer(reply.seq);
    return true;
  }

  private async recreateConsumer(startSeq: number): Promise<void> {
    // Only "not found" is fine here. A delete that timed out (the cluster electing leaders) used
    // to be ignored, and the add then met the old consumer: "start sequence can not be updated".
    await this.deps.jsm.consumers.delete(SYNC_STREAM, this.durable).catch((err) => {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    });
    await this.deps.jsm.consumers.add(SYNC_STREAM, {
      durable_name: this.durable,
      filter_subject: syncSubject(this.deps.region),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      ack_wait: 60_000_000_000,
      max_deliver: -1,
    });
    this.deps.onPending(0);
    this.deps.log.info({ startSeq }, 'sync consumer created');
  }
}

function validLink(link: unknown): RegionLink | undefined {
  const l = link as Partial<RegionLink> | undefined;
  if (!l || typeof l.bytesPerSecond !== 'number' || !(l.bytesPerSecond > 0)) return undefined;
  return typeof l.burstBytes === 'number' && l.burstBytes > 0
    ? { bytesPerSecond: l.bytesPerSecond, burstBytes: l.burstBytes }
    : { bytesPerSecond: l.bytesPerSecond };
}

/**
 * Where the agent's durable consumer stands on the sync stream: created right after what the
 * agent consumed, or at a fresh snapshot asked for over `fedmesh.resync.<region>`.
 */
import {
  agentDurableName,
  ErrorCode,
  FedmeshError,
  type Logger,
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
  /** A backlog longer than this many messages is skipped with a fresh snapshot. */
  maxReplayMessages: number;
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
  /** Asks for a snapshot instead of replaying a backlog too long to be worth it. */
  skipLongBacklog(): Promise<void>;
  /** Restarts delivery right after the last message this agent consumed. */
  rewind(): Promise<void>;
  /** Throws away the consumer and starts again at a fresh snapshot. */
  resync(): Promise<void>;
}

export function createConsumerPosition(deps: ConsumerPositionDeps): ConsumerPosition {
  return new Position(deps);
}

class Position implements ConsumerPosition {
  readonly durable: string;
  private attached = false;
  /** The consumer starts at a snapshot (requested, or being resumed): its length is no reason to skip it. */
  private atSnapshot = false;
  private link: RegionLink | undefined;

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
   * An agent that was away long enough to have a long backlog asks for a snapshot instead of
   * replaying every delta: one view costs less on the line than a long history of changes. A
   * consumer that starts at a snapshot is left alone, however many chunks it has.
   */
  async skipLongBacklog(): Promise<void> {
    const info = await this.deps.jsm.consumers.info(SYNC_STREAM, this.durable);
    this.deps.onPending(info.num_pending);
    if (!this.atSnapshot && info.num_pending > this.deps.maxReplayMessages) {
      this.deps.log.info({ pending: info.num_pending }, 'backlog too long to replay; requesting a snapshot');
      await this.resync();
    }
  }

  async rewind(): Promise<void> {
    const p = this.deps.spool.progress();
    this.atSnapshot = p?.meta.type === 'snapshot';
    if (p) this.deps.stats.resumes++;
    await this.recreateConsumer(this.position() + 1);
  }

  /**
   * First start, a gap, a bad message. When the hub answers with the very snapshot the spool is
   * part-way through (the same messages, deduplicated), the transfer goes on from the next chunk.
   */
  async resync(): Promise<void> {
    const { deps } = this;
    deps.stats.resyncs++;
    const reply = await deps.nc.request(
      resyncSubject(deps.region),
      JSON.stringify({
        have: deps.state().view.version,
        ...(deps.acceptedCodecs ? { codecs: deps.acceptedCodecs } : {}),
      }),
      { timeout: 10_000 },
    );
    const body = reply.json<{ seq?: number; hash?: string; link?: RegionLink; error?: string }>();
    if (!body.seq)
      throw new FedmeshError(
        ErrorCode.Unavailable,
        `hub cannot send a snapshot: ${body.error ?? 'no sequence'}`,
      );
    this.link = validLink(body.link);
    deps.onHint();
    this.atSnapshot = true;
    const p = deps.spool.progress();
    if (p && p.firstSeq === body.seq && p.meta.toHash === body.hash) {
      deps.stats.resumes++;
      deps.log.info(
        { seq: body.seq, chunk: p.chunks, of: p.meta.count },
        'snapshot already part-spooled; resuming',
      );
      await this.recreateConsumer(p.lastSeq + 1);
      return;
    }
    await deps.spool.clear();
    deps.log.info({ seq: body.seq }, 'snapshot requested');
    await this.recreateConsumer(body.seq);
  }

  private async recreateConsumer(startSeq: number): Promise<void> {
    await this.deps.jsm.consumers.delete(SYNC_STREAM, this.durable).catch(() => undefined);
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

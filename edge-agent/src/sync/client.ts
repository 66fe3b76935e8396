import {
  agentDurableName,
  decompress,
  type EnvelopeMeta,
  ErrorCode,
  FedmeshError,
  isFedmeshError,
  type Logger,
  metaFromHeaders,
  type RegionView,
  resyncSubject,
  SYNC_STREAM,
  syncSubject,
} from '@fedmesh/shared';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AgentState, StateStore } from '../state/file-store.js';
import { applyPayload } from './apply.js';

export interface SyncCounters {
  messagesReceived: number;
  /** Bytes of sync messages received (payload and headers), as they crossed the line. */
  bytesReceived: number;
  applied: number;
  rejected: number;
  resyncs: number;
  /** Replays from the agent's own position after out-of-order delivery (not an error). */
  rewinds: number;
  lastError?: string;
}

export interface SyncClientDeps {
  region: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  store: StateStore;
  logger: Logger;
  /** Called after a new view is verified and persisted. */
  onView: (view: RegionView) => void;
  options: {
    /** Largest decoded payload accepted; a bigger one is rejected before it is allocated. */
    maxPayloadBytes: number;
    /** Messages per pull. */
    batch: number;
    /** How long one pull waits for messages. */
    pullExpiresMs: number;
    /** A backlog longer than this many messages is skipped with a fresh snapshot. */
    maxReplayMessages: number;
  };
}

export interface SyncClient {
  start(initial: AgentState): Promise<void>;
  stop(): Promise<void>;
  state(): AgentState;
  counters(): Readonly<SyncCounters>;
}

export function createSyncClient(deps: SyncClientDeps): SyncClient {
  return new Client(deps);
}

interface PartialPayload {
  meta: EnvelopeMeta;
  parts: Uint8Array[];
}

class Client implements SyncClient {
  private current!: AgentState;
  private readonly stats: SyncCounters = {
    messagesReceived: 0,
    bytesReceived: 0,
    applied: 0,
    rejected: 0,
    resyncs: 0,
    rewinds: 0,
  };
  private stopped = false;
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private partial: PartialPayload | undefined;
  private readonly log: Logger;
  private readonly durable: string;
  private attached = false;
  /** Rewinds since the last applied message: a second one in a row means a real gap. */
  private rewinds = 0;

  constructor(private readonly deps: SyncClientDeps) {
    this.log = deps.logger.child({ component: 'sync' });
    this.durable = agentDurableName(deps.region);
  }

  state(): AgentState {
    return this.current;
  }

  counters(): Readonly<SyncCounters> {
    return this.stats;
  }

  async start(initial: AgentState): Promise<void> {
    this.current = initial;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
    await this.loop;
  }

  /** Pulls forever; every failure ends in a pause and a fresh attempt, never in a dead agent. */
  private async run(): Promise<void> {
    let backoff = 250;
    while (!this.stopped) {
      try {
        await this.ensureConsumer();
        await this.skipLongBacklog();
        backoff = 250;
        await this.pullUntilReset();
      } catch (err) {
        if (this.stopped) break;
        this.stats.lastError = (err as Error).message;
        this.log.warn({ err: (err as Error).message }, 'sync interrupted; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /**
   * Makes sure the durable consumer exists. A new one starts right after the last applied
   * message when the agent has state, or at a fresh snapshot requested from the hub.
   */
  private async ensureConsumer(): Promise<void> {
    if (this.attached) {
      try {
        await this.deps.jsm.consumers.info(SYNC_STREAM, this.durable);
        return;
      } catch (err) {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
      }
    }
    // On the first attach of this process the durable is recreated at what the agent persisted:
    // messages delivered to a crashed predecessor but never acked would otherwise come back
    // only after the ack wait, behind newer ones.
    if (this.current.streamSeq > 0) await this.rewind();
    else await this.recreateConsumer(await this.requestSnapshot());
    this.attached = true;
  }

  /** Restarts delivery right after the last message this agent applied. */
  private async rewind(): Promise<void> {
    this.partial = undefined;
    await this.recreateConsumer(this.current.streamSeq + 1);
  }

  private async recreateConsumer(startSeq: number): Promise<void> {
    await this.deps.jsm.consumers.delete(SYNC_STREAM, this.durable).catch(() => undefined);
    await this.createConsumer(startSeq);
  }

  /**
   * An agent that was away long enough to have a long backlog asks for a snapshot instead of
   * replaying every delta: one view costs less on the line than a long history of changes.
   */
  private async skipLongBacklog(): Promise<void> {
    const info = await this.deps.jsm.consumers.info(SYNC_STREAM, this.durable);
    if (info.num_pending > this.deps.options.maxReplayMessages) {
      this.log.info({ pending: info.num_pending }, 'backlog too long to replay; requesting a snapshot');
      await this.resync();
    }
  }

  private async createConsumer(startSeq: number): Promise<void> {
    await this.deps.jsm.consumers.add(SYNC_STREAM, {
      durable_name: this.durable,
      filter_subject: syncSubject(this.deps.region),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      ack_wait: 60_000_000_000,
      max_deliver: -1,
    });
    this.log.info({ startSeq }, 'sync consumer created');
  }

  /** Asks the hub to publish a snapshot; returns the stream sequence it starts at. */
  private async requestSnapshot(): Promise<number> {
    this.stats.resyncs++;
    const reply = await this.deps.nc.request(
      resyncSubject(this.deps.region),
      JSON.stringify({ have: this.current.view.version }),
      {
        timeout: 10_000,
      },
    );
    const body = reply.json<{ seq?: number; error?: string }>();
    if (!body.seq)
      throw new FedmeshError(
        ErrorCode.Unavailable,
        `hub cannot send a snapshot: ${body.error ?? 'no sequence'}`,
      );
    this.log.info({ seq: body.seq }, 'snapshot requested');
    return body.seq;
  }

  /** Throws away the consumer and starts again at a fresh snapshot (after a gap or a bad message). */
  private async resync(): Promise<void> {
    this.partial = undefined;
    await this.recreateConsumer(await this.requestSnapshot());
  }

  private async pullUntilReset(): Promise<void> {
    const consumer = await this.deps.js.consumers.get(SYNC_STREAM, this.durable);
    while (!this.stopped) {
      const batch = await consumer.fetch({
        max_messages: this.deps.options.batch,
        expires: this.deps.options.pullExpiresMs,
      });
      this.messages = batch;
      let reset: 'resync' | 'rewind' | undefined;
      for await (const m of batch) {
        const outcome = await this.handle(m);
        if (outcome !== 'ok') {
          reset = outcome;
          break;
        }
      }
      if (reset) {
        await batch.close().catch(() => undefined);
        if (reset === 'rewind') await this.rewind();
        else await this.resync();
        return;
      }
    }
  }

  /** Handles one message; returns 'resync' when the chain is broken and a snapshot is needed. */
  private async handle(m: JsMsg): Promise<'ok' | 'resync' | 'rewind'> {
    this.stats.messagesReceived++;
    this.stats.bytesReceived += m.data.byteLength + headerBytes(m);
    let meta: EnvelopeMeta;
    try {
      meta = metaFromHeaders((name) => m.headers?.get(name) || undefined);
      if (meta.region !== this.deps.region) {
        throw new FedmeshError(
          ErrorCode.DecodeFailed,
          `message for region ${meta.region} on ${this.deps.region}'s subject`,
        );
      }
      if (meta.rawSize > this.deps.options.maxPayloadBytes) {
        throw new FedmeshError(ErrorCode.DecodeFailed, `payload of ${meta.rawSize} bytes is over the limit`);
      }
    } catch (err) {
      return this.reject(m, err);
    }
    const whole = this.assemble(meta, m.data);
    if (whole === 'gap') return this.reject(m, new FedmeshError(ErrorCode.VersionGap, 'a chunk is missing'));
    if (whole === undefined) {
      m.ack();
      return 'ok';
    }
    try {
      const raw = await decompress(meta.codec, whole, this.deps.options.maxPayloadBytes);
      let payload: unknown;
      try {
        payload = JSON.parse(new TextDecoder().decode(raw));
      } catch (err) {
        throw new FedmeshError(ErrorCode.DecodeFailed, 'payload is not JSON', { cause: err });
      }
      let outcome: ReturnType<typeof applyPayload>;
      try {
        outcome = applyPayload(this.current.view, meta, payload);
      } catch (err) {
        // A delta from beyond what we hold is usually a message redelivered out of order after
        // a reconnect: replay from our own position once before calling it a broken chain.
        if (
          isFedmeshError(err, ErrorCode.VersionGap) &&
          meta.fromVersion > this.current.view.version &&
          this.rewinds === 0
        ) {
          this.rewinds++;
          this.stats.rewinds++;
          this.log.info(
            { seq: m.seq, held: this.current.view.version, from: meta.fromVersion },
            'out of order; replaying from the held position',
          );
          return 'rewind';
        }
        throw err;
      }
      this.rewinds = 0;
      if (outcome.kind === 'skipped') {
        this.log.debug({ seq: m.seq, reason: outcome.reason }, 'message skipped');
        this.current = { ...this.current, streamSeq: m.seq };
      } else {
        const next: AgentState = { view: outcome.view, streamSeq: m.seq };
        await this.deps.store.save(next); // persisted before the ack: a crash here means redelivery, not loss
        this.current = next;
        this.stats.applied++;
        this.log.info({ version: next.view.version, type: meta.type, hash: next.view.hash }, 'view applied');
        this.deps.onView(next.view);
      }
      await m.ackAck().catch(() => m.ack());
      return 'ok';
    } catch (err) {
      return this.reject(m, err);
    }
  }

  /** Collects the chunks of one payload; returns it whole once the last chunk is in. */
  private assemble(meta: EnvelopeMeta, data: Uint8Array): Uint8Array | undefined | 'gap' {
    const { index, count } = meta.chunk;
    if (count === 1) {
      this.partial = undefined;
      return data;
    }
    if (index === 1) this.partial = { meta, parts: [] };
    const p = this.partial;
    if (
      !p ||
      p.meta.toVersion !== meta.toVersion ||
      p.meta.type !== meta.type ||
      p.parts.length !== index - 1
    ) {
      this.partial = undefined;
      return 'gap';
    }
    p.parts.push(data);
    if (index < count) return undefined;
    this.partial = undefined;
    return Buffer.concat(p.parts);
  }

  private reject(m: JsMsg, err: unknown): 'resync' {
    this.stats.rejected++;
    this.stats.lastError = (err as Error).message;
    const code = isFedmeshError(err) ? err.code : ErrorCode.Internal;
    this.log.warn(
      { seq: m.seq, code, err: (err as Error).message },
      'sync message rejected; requesting a snapshot',
    );
    // Acked so the broken message is not redelivered; the snapshot replaces whatever it meant.
    m.ack();
    return 'resync';
  }
}

function headerBytes(m: JsMsg): number {
  if (!m.headers) return 0;
  let n = 'NATS/1.0\r\n\r\n'.length;
  for (const [k, v] of m.headers) n += Buffer.byteLength(`${k}: ${v.join(',')}\r\n`);
  return n;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

import {
  agentDurableName,
  applyPayload,
  type DeltaPayload,
  decodeBody,
  decompress,
  decompressStream,
  deliveryLineBytes,
  type EnvelopeMeta,
  ErrorCode,
  FedmeshError,
  isFedmeshError,
  type Logger,
  MessageType,
  mirror,
  type RegionView,
  resyncSubject,
  SYNC_STREAM,
  syncSubject,
  type ViewState,
} from '@fedmesh/shared';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type FetchOptions,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  JetStreamError,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AgentState, StateStore } from '../state/file-store.js';
import {
  createLineCounter,
  type EffectiveBudget,
  effectiveBudget,
  lineBytes,
  pullBytesFor,
  type RegionLink,
  regionLink,
  tokensToPull,
} from './line.js';
import { type Clock, createRateMeter, createTokenBucket, systemClock } from './pacer.js';
import { type ChunkSpool, createChunkSpool } from './spool.js';

export interface SyncCounters {
  messagesReceived: number;
  /** Bytes of sync messages received (payload and headers). */
  bytesReceived: number;
  /** Everything the downlink carried for this agent, estimated: sync messages, protocol, TCP/IP. */
  lineBytesReceived: number;
  applied: number;
  rejected: number;
  resyncs: number;
  /** Replays from the agent's own position after out-of-order delivery (not an error). */
  rewinds: number;
  /** Chunks written to the spool, and chunked transfers picked up where a previous attempt stopped. */
  chunksSpooled: number;
  resumes: number;
  /** Compressed and uncompressed bytes of the payloads decoded: their ratio is the compression ratio. */
  payloadBytes: number;
  rawBytes: number;
  /** Time spent waiting for the budget to allow the next pull. */
  pacedWaitMs: number;
  lastError?: string;
}

/** How the downlink is doing right now: what `/status`, `/metrics` and the status reports show. */
export interface LineStatus {
  budget: EffectiveBudget | null;
  /** Tokens in the bucket (bytes the agent may receive at once now); null when not metered. */
  tokens: number | null;
  /** Line bytes per second over the last 5 s, and that rate over the budget. */
  receiveRate: number;
  utilization: number | null;
  /** Stream sequence of the last sync message consumed (applied, skipped or spooled). */
  streamSeq: number;
  /** Sync messages still on the stream for this region, as of the last one received. */
  queuedMessages: number;
  /** Those messages in line bytes, estimated from the recent average message, and the time the budget needs for them. */
  queuedBytes: number;
  drainSeconds: number | null;
  compressionRatio: number | null;
  spool: { type: string; toVersion: number; chunks: number; count: number; bytes: number } | null;
}

export interface SyncClientDeps {
  region: string;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  store: StateStore;
  logger: Logger;
  /**
   * Called with a verified, persisted view for the proxies: at once, or while catching up on a
   * backlog, with the newest one at most every couple of seconds.
   */
  onView: (view: RegionView) => void;
  /** Called as soon as a view is verified and persisted, served or not (the hub hears of it). */
  onApplied?: (view: RegionView) => void;
  /** Called when a transfer moved on (a chunk spooled, a message consumed); callers throttle. */
  onProgress?: () => void;
  /** Where chunked payloads are spooled (inside the state dir). */
  spoolDir: string;
  /** The agent's `--budget`: lowers the Region's `link.budget`, never raises it. */
  budgetBytesPerSecond?: number;
  /** Codecs the agent accepts, sent with snapshot requests so the snapshot is encoded for them. */
  acceptedCodecs?: readonly string[];
  clock?: Clock;
  options: {
    /** Largest decoded payload accepted; a bigger one is rejected before it is allocated. */
    maxPayloadBytes: number;
    /** Messages per pull when the line is not metered. */
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
  line(): LineStatus;
}

export function createSyncClient(deps: SyncClientDeps): SyncClient {
  return new Client(deps);
}

/** Smallest pull worth a round trip: about one small delta with its headers. */
const MIN_PULL_BYTES = 1024;
/**
 * While catching up on a backlog, proxies get the newest verified view at most this often:
 * translating every intermediate view for them would make the agent, not the line, the
 * bottleneck. Once caught up, every view is served at once.
 */
const CATCH_UP_SERVE_MS = 2_000;

type Outcome = 'ok' | 'resync' | 'rewind';

class Client implements SyncClient {
  private current!: AgentState;
  private readonly stats: SyncCounters = {
    messagesReceived: 0,
    bytesReceived: 0,
    lineBytesReceived: 0,
    applied: 0,
    rejected: 0,
    resyncs: 0,
    rewinds: 0,
    chunksSpooled: 0,
    resumes: 0,
    payloadBytes: 0,
    rawBytes: 0,
    pacedWaitMs: 0,
  };
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly log: Logger;
  private readonly durable: string;
  private attached = false;
  /** Rewinds since the last message that moved the agent on: a second one in a row means a real gap. */
  private rewinds = 0;
  /** The consumer starts at a snapshot (requested, or being resumed): its length is no reason to skip it. */
  private atSnapshot = false;
  private readonly spool: ChunkSpool;
  private readonly clock: Clock;
  private readonly bucket;
  private readonly meter;
  private readonly counter;
  /** The Region's link as the hub announced it, until the agent holds its own Region. */
  private hint: RegionLink | undefined;
  /** Tokens needed to pull the largest sync message seen: the bucket always holds at least that many. */
  private largestMessage = 0;
  /** Recent line bytes per message, for the queued-bytes estimate. */
  private averageMessage = 0;
  private queued = 0;
  /** Bytes the next pull must be able to take, learnt from what came (or did not fit) before. */
  private minPull = MIN_PULL_BYTES;
  private oversizePull = false;
  /**
   * Set when the budget shrinks: a pull sized under the old budget may still be filling (it
   * stays open until it expires), so it is ended and delivery restarted under the new one.
   */
  private budgetShrank = false;
  /**
   * Tokens paid up front for the pull in flight. Paying when asking, not when the bytes arrive,
   * keeps the refill that happens while a pull crosses a slow line from overflowing the bucket.
   */
  private reserved = 0;
  /** A verified, persisted view not yet handed to the proxies (catching up), and when the last one was. */
  private unserved: RegionView | undefined;
  private servedAt = 0;
  /** How long handing the last view over took (the xDS translation): catching up spends at most a fifth on it. */
  private serveMs = 0;
  /** Mirror of the held view's encoding, so a delta is verified at the cost of its size; built on first use. */
  private cache: ViewState | undefined;

  constructor(private readonly deps: SyncClientDeps) {
    this.log = deps.logger.child({ component: 'sync' });
    this.durable = agentDurableName(deps.region);
    this.spool = createChunkSpool(deps.spoolDir);
    this.clock = deps.clock ?? systemClock;
    this.bucket = createTokenBucket(undefined, this.clock);
    this.meter = createRateMeter(5_000, 10, this.clock);
    this.counter = createLineCounter(() => deps.nc.stats());
  }

  state(): AgentState {
    return this.current;
  }

  counters(): Readonly<SyncCounters> {
    this.charge();
    return this.stats;
  }

  line(): LineStatus {
    this.charge();
    const budget = (this.bucket.budget() as EffectiveBudget | undefined) ?? null;
    const rate = this.meter.rate();
    const queuedBytes = Math.round(this.queued * this.averageMessage);
    const p = this.spool.progress();
    return {
      budget,
      tokens: budget ? Math.floor(this.bucket.available()) : null,
      receiveRate: Math.round(rate),
      utilization: budget ? round3(rate / budget.bytesPerSecond) : null,
      streamSeq: this.position(),
      queuedMessages: this.queued,
      queuedBytes,
      drainSeconds: budget ? round3(queuedBytes / budget.bytesPerSecond) : null,
      compressionRatio:
        this.stats.payloadBytes > 0 ? round3(this.stats.rawBytes / this.stats.payloadBytes) : null,
      spool: p
        ? {
            type: p.meta.type,
            toVersion: p.meta.toVersion,
            chunks: p.chunks,
            count: p.meta.count,
            bytes: p.bytes,
          }
        : null,
    };
  }

  async start(initial: AgentState): Promise<void> {
    this.current = initial;
    this.servedAt = this.clock.now(); // the agent serves its persisted view as it starts
    const p = await this.spool.open();
    if (p && (p.meta.toVersion <= initial.view.version || p.lastSeq <= initial.streamSeq)) {
      await this.spool.clear(); // left over from a payload the agent got past some other way
    } else if (p) {
      this.hint = p.hint;
      this.log.info(
        { type: p.meta.type, toVersion: p.meta.toVersion, chunk: p.chunks, of: p.meta.count },
        'a chunked transfer was interrupted; resuming at the next chunk',
      );
    }
    this.refreshBudget();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.messages?.close().catch(() => undefined);
    await this.loop;
    this.serve(undefined, true);
    await this.spool.close();
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
        this.serve(undefined, true); // whatever was verified is served through an outage
        if (this.stopped) break;
        // Messages delivered to a broken connection come back only after the ack wait, behind
        // newer ones: start again from our own position rather than from the consumer's.
        this.attached = false;
        this.stats.lastError = (err as Error).message;
        this.log.warn({ err: (err as Error).message }, 'sync interrupted; retrying');
        await this.clock.sleep(backoff, this.abort.signal);
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  }

  /**
   * Makes sure the durable consumer exists. A new one starts right after the last message this
   * agent consumed when it has state (or a spooled transfer), or at a fresh snapshot requested
   * from the hub.
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
    // On a (re)attach the durable is recreated at what the agent persisted: messages delivered
    // to a crashed predecessor, or to a dropped connection, but never acked would otherwise come
    // back only after the ack wait, behind newer ones.
    if (this.position() > 0) await this.rewind();
    else await this.resync();
    this.attached = true;
  }

  /** Stream sequence of the last message consumed: applied, skipped, or spooled as a chunk. */
  private position(): number {
    return Math.max(this.current.streamSeq, this.spool.progress()?.lastSeq ?? 0);
  }

  /** Restarts delivery right after the last message this agent consumed. */
  private async rewind(): Promise<void> {
    const p = this.spool.progress();
    this.atSnapshot = p?.meta.type === 'snapshot';
    if (p) this.stats.resumes++;
    await this.recreateConsumer(this.position() + 1);
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
    this.queued = 0;
    this.log.info({ startSeq }, 'sync consumer created');
  }

  /**
   * An agent that was away long enough to have a long backlog asks for a snapshot instead of
   * replaying every delta: one view costs less on the line than a long history of changes. A
   * consumer that starts at a snapshot is left alone, however many chunks it has.
   */
  private async skipLongBacklog(): Promise<void> {
    const info = await this.deps.jsm.consumers.info(SYNC_STREAM, this.durable);
    this.queued = info.num_pending;
    if (!this.atSnapshot && info.num_pending > this.deps.options.maxReplayMessages) {
      this.log.info({ pending: info.num_pending }, 'backlog too long to replay; requesting a snapshot');
      await this.resync();
    }
  }

  /**
   * Throws away the consumer and starts again at a fresh snapshot (first start, a gap, a bad
   * message). When the hub answers with the very snapshot the spool is part-way through (the
   * same messages, deduplicated), the transfer goes on from the next chunk.
   */
  private async resync(): Promise<void> {
    this.stats.resyncs++;
    const reply = await this.deps.nc.request(
      resyncSubject(this.deps.region),
      JSON.stringify({
        have: this.current.view.version,
        ...(this.deps.acceptedCodecs ? { codecs: this.deps.acceptedCodecs } : {}),
      }),
      { timeout: 10_000 },
    );
    const body = reply.json<{ seq?: number; hash?: string; link?: RegionLink; error?: string }>();
    if (!body.seq)
      throw new FedmeshError(
        ErrorCode.Unavailable,
        `hub cannot send a snapshot: ${body.error ?? 'no sequence'}`,
      );
    this.hint = validLink(body.link);
    this.refreshBudget();
    this.atSnapshot = true;
    const p = this.spool.progress();
    if (p && p.firstSeq === body.seq && p.meta.toHash === body.hash) {
      this.stats.resumes++;
      this.log.info(
        { seq: body.seq, chunk: p.chunks, of: p.meta.count },
        'snapshot already part-spooled; resuming',
      );
      await this.recreateConsumer(p.lastSeq + 1);
      return;
    }
    await this.spool.clear();
    this.log.info({ seq: body.seq }, 'snapshot requested');
    await this.recreateConsumer(body.seq);
  }

  private async pullUntilReset(): Promise<void> {
    const consumer = await this.deps.js.consumers.get(SYNC_STREAM, this.durable);
    while (!this.stopped) {
      const asked = await this.nextPull();
      if (this.stopped) return;
      let batch: ConsumerMessages;
      try {
        batch = await consumer.fetch(asked.options);
      } catch (err) {
        this.settlePull();
        throw err;
      }
      this.messages = batch;
      let delivered = 0;
      let reset: Outcome = 'ok';
      let last: EnvelopeMeta | undefined;
      let lastRoom = 0;
      try {
        for await (const m of batch) {
          delivered++;
          const { outcome, meta, room } = await this.handle(m);
          last = meta;
          lastRoom = room;
          if (outcome !== 'ok') {
            reset = outcome;
            break;
          }
          if (this.budgetShrank) {
            // What the open pull would still bring was paid for under the old budget; the
            // messages it already handed over but we did not handle come back after a rewind.
            this.budgetShrank = false;
            reset = 'rewind';
            break;
          }
        }
      } catch (err) {
        // A pull sized in bytes ends with a 409 once the next message does not fit: the normal
        // end of a paced batch, not a failure.
        if (!isMaxBytesEnd(err)) {
          this.settlePull();
          throw err;
        }
        if (delivered === 0) this.nothingFitted(asked.bytes);
      }
      this.settlePull();
      this.serve(undefined, this.queued === 0);
      if (reset !== 'ok') {
        await batch.close().catch(() => undefined);
        if (reset === 'rewind') await this.rewind();
        else await this.resync();
        return;
      }
      if (delivered > 0) {
        this.oversizePull = false;
        // Wait for room for a message like the last one before pulling again: the chunks of a
        // payload are all the same size but the last, and a backlog of deltas tends to be
        // uniform. After the last chunk of a payload, anything may come.
        this.minPull =
          last && last.chunk.index === last.chunk.count && last.chunk.count > 1
            ? MIN_PULL_BYTES
            : Math.max(MIN_PULL_BYTES, lastRoom);
      }
    }
  }

  /** Waits until the budget allows a pull worth making, and sizes it by the tokens there are. */
  private async nextPull(): Promise<{ options: FetchOptions; bytes: number }> {
    const expires = this.deps.options.pullExpiresMs;
    this.charge();
    this.refreshBudget();
    const budget = this.bucket.budget();
    if (!budget) return { options: { max_messages: this.deps.options.batch, expires }, bytes: 0 };
    const want = this.oversizePull ? budget.burstBytes : this.minPull;
    // About to wait for the budget: time enough to serve what is verified.
    if (this.bucket.available() < want) this.serve(undefined, true);
    this.stats.pacedWaitMs += await this.bucket.waitFor(want, this.abort.signal);
    this.charge();
    if (this.oversizePull) {
      // A message larger than the whole bucket: take it alone on a full bucket and pay off the
      // debt before the next pull. The bucket grows to fit it once it is seen.
      return { options: { max_messages: 1, expires }, bytes: 0 };
    }
    const tokens = Math.max(0, this.bucket.available());
    const bytes = Math.max(1, pullBytesFor(tokens));
    this.reserved = tokens;
    this.bucket.take(tokens);
    return { options: { max_bytes: bytes, expires }, bytes };
  }

  /** The next message is bigger than what was asked for: ask for more next time, up to a full bucket. */
  private nothingFitted(asked: number): void {
    const burst = this.bucket.budget()?.burstBytes ?? 0;
    if (asked >= pullBytesFor(burst)) this.oversizePull = true;
    else this.minPull = Math.min(burst, Math.max(asked * 2, this.minPull * 2));
  }

  /**
   * Charges the bucket and the meter for everything received on the connection since the last
   * call; what the pull in flight paid for already is taken from its reservation.
   */
  private charge(): void {
    const bytes = this.counter.poll();
    if (bytes === 0) return;
    const covered = Math.min(bytes, this.reserved);
    this.reserved -= covered;
    this.bucket.take(bytes - covered);
    this.meter.add(bytes);
    this.stats.lineBytesReceived += bytes;
  }

  /** The pull ended: tokens it paid for and did not use go back. */
  private settlePull(): void {
    this.charge();
    if (this.reserved > 0) this.bucket.refund(this.reserved);
    this.reserved = 0;
  }

  /** Applies the budget of the Region the agent holds (or that the hub announced), lowered by the flag. */
  private refreshBudget(): void {
    const own = regionLink(this.current.view);
    const next = effectiveBudget({
      link: own ?? this.hint,
      linkSource: own ? 'region' : 'hub',
      flagBytesPerSecond: this.deps.budgetBytesPerSecond,
      largestMessage: this.largestMessage,
    });
    const was = this.bucket.budget() as EffectiveBudget | undefined;
    if (
      was?.bytesPerSecond === next?.bytesPerSecond &&
      was?.burstBytes === next?.burstBytes &&
      was?.source === next?.source
    )
      return;
    if (was && (!next || next.bytesPerSecond < was.bytesPerSecond || next.burstBytes < was.burstBytes)) {
      this.budgetShrank = true;
    }
    this.bucket.setBudget(next);
    this.log.info(
      next ? { bytesPerSecond: next.bytesPerSecond, burstBytes: next.burstBytes, source: next.source } : {},
      next ? 'line budget in force' : 'line not metered',
    );
  }

  /** Handles one message; anything but 'ok' resets the consumer. */
  private async handle(m: JsMsg): Promise<{ outcome: Outcome; meta?: EnvelopeMeta; room: number }> {
    const body = m.data.byteLength + headerBytes(m);
    const reply = (m as JsMsg & { reply?: string }).reply ?? '';
    const cost = lineBytes(body, 1, deliveryLineBytes(m.subject, reply, headerBytes(m), body));
    // What it takes to pull a message this size again: the next chunk of a payload is as big.
    const room = tokensToPull(body + m.subject.length + reply.length);
    this.stats.messagesReceived++;
    this.stats.bytesReceived += body;
    this.largestMessage = Math.max(this.largestMessage, room);
    this.averageMessage = this.averageMessage === 0 ? cost : this.averageMessage * 0.9 + cost * 0.1;
    this.queued = m.info.pending;
    this.charge();
    let meta: EnvelopeMeta;
    let payload: Uint8Array;
    try {
      // The region is the subject's: the consumer only ever delivers this region's subject.
      ({ meta, payload } = decodeBody(this.deps.region, m.data));
      if (meta.rawSize > this.deps.options.maxPayloadBytes) {
        throw new FedmeshError(ErrorCode.DecodeFailed, `payload of ${meta.rawSize} bytes is over the limit`);
      }
    } catch (err) {
      return { outcome: this.reject(m, err), room };
    }
    const outcome =
      meta.chunk.count === 1
        ? await this.handleWhole(m, meta, payload)
        : await this.handleChunk(m, meta, payload);
    this.deps.onProgress?.();
    return { outcome, meta, room };
  }

  private async handleWhole(m: JsMsg, meta: EnvelopeMeta, payload: Uint8Array): Promise<Outcome> {
    try {
      const raw = await decompress(meta.codec, payload, this.deps.options.maxPayloadBytes);
      return await this.applyDecoded(m, meta, raw, payload.byteLength);
    } catch (err) {
      return this.reject(m, err);
    }
  }

  /** Spools one chunk; applies the payload once its last chunk is on disk. */
  private async handleChunk(m: JsMsg, meta: EnvelopeMeta, payload: Uint8Array): Promise<Outcome> {
    const held = this.current.view;
    if (meta.toVersion < held.version || (meta.toVersion === held.version && meta.toHash === held.hash)) {
      // Part of something the agent already holds (a redelivery, a replica's duplicate).
      this.current = { ...this.current, streamSeq: m.seq };
      m.ack();
      return 'ok';
    }
    const bytesSoFar = this.spool.progress()?.bytes ?? 0;
    if (bytesSoFar + payload.byteLength > this.deps.options.maxPayloadBytes) {
      await this.spool.clear();
      return this.reject(m, new FedmeshError(ErrorCode.DecodeFailed, 'chunked payload is over the limit'));
    }
    let spooled: Awaited<ReturnType<ChunkSpool['accept']>>;
    try {
      spooled = await this.spool.accept(meta, m.seq, payload, this.hint);
    } catch (err) {
      // A full or failing disk: nothing was acknowledged, the chunk comes again after a retry.
      throw new FedmeshError(ErrorCode.Internal, `cannot spool chunk: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (spooled === 'gap') return this.outOfOrder(m, meta, 'a chunk is missing');
    if (spooled === 'duplicate') {
      m.ack();
      return 'ok';
    }
    this.rewinds = 0;
    this.stats.chunksSpooled++;
    if (spooled === 'appended') {
      // The chunk is on disk: acknowledging it now costs nothing if the agent dies before the rest.
      m.ack();
      return 'ok';
    }
    const p = this.spool.progress()!;
    try {
      const raw = await decompressStream(
        meta.codec,
        this.spool.read(),
        meta.rawSize,
        this.deps.options.maxPayloadBytes,
      );
      const outcome = await this.applyDecoded(m, meta, raw, p.bytes);
      if (outcome === 'ok') await this.spool.clear(); // already held (skipped): nothing to keep either
      return outcome;
    } catch (err) {
      await this.spool.clear();
      return this.reject(m, err);
    }
  }

  /** Parses, verifies, persists and serves a decoded payload; throws when it is not acceptable. */
  private async applyDecoded(
    m: JsMsg,
    meta: EnvelopeMeta,
    raw: Uint8Array,
    compressed: number,
  ): Promise<Outcome> {
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'));
    } catch (err) {
      throw new FedmeshError(ErrorCode.DecodeFailed, 'payload is not JSON', { cause: err });
    }
    let outcome: ReturnType<typeof applyPayload>;
    try {
      this.cache ??= mirror(this.current.view.resources);
      outcome = applyPayload(this.current.view, meta, payload, this.cache);
    } catch (err) {
      // A delta from beyond what we hold is usually a message redelivered out of order after
      // a reconnect: replay from our own position once before calling it a broken chain.
      if (isFedmeshError(err, ErrorCode.VersionGap) && meta.fromVersion > this.current.view.version) {
        return this.outOfOrder(m, meta, (err as Error).message, err);
      }
      throw err;
    }
    this.rewinds = 0;
    this.stats.payloadBytes += compressed;
    this.stats.rawBytes += raw.byteLength;
    if (outcome.kind === 'skipped') {
      this.log.debug({ seq: m.seq, reason: outcome.reason }, 'message skipped');
      this.current = { ...this.current, streamSeq: m.seq };
    } else {
      const next: AgentState = { view: outcome.view, streamSeq: m.seq };
      // Persisted before the ack: a crash here means redelivery, not loss. A delta is journalled,
      // so persisting it costs the size of the change rather than of the view.
      try {
        if (meta.type === MessageType.Delta) {
          await this.deps.store.record(next, meta.fromVersion, (payload as DeltaPayload).ops);
        } else {
          await this.deps.store.save(next);
        }
      } catch (err) {
        this.cache = undefined; // it mirrors the view that was not persisted: rebuild it from the held one
        throw err;
      }
      // Persisted: the chunks it came in are of no further use.
      if (meta.chunk.count > 1) await this.spool.clear();
      this.current = next;
      this.stats.applied++;
      this.log.info({ version: next.view.version, type: meta.type, hash: next.view.hash }, 'view applied');
      this.refreshBudget();
      this.deps.onApplied?.(next.view);
      this.serve(next.view, m.info.pending === 0);
    }
    // Not ackAck: the agent restarts from its own persisted position, so the server's copy of
    // the ack floor needs no round trip, which on a long line would throttle a backlog of deltas.
    m.ack();
    return 'ok';
  }

  /** Hands a view to the proxies now, or (while catching up) once the backlog or a second has passed. */
  private serve(view: RegionView | undefined, caughtUp: boolean): void {
    if (view) this.unserved = view;
    if (!this.unserved) return;
    const now = this.clock.now();
    if (!caughtUp && now - this.servedAt < Math.max(CATCH_UP_SERVE_MS, 4 * this.serveMs)) return;
    const v = this.unserved;
    this.unserved = undefined;
    this.deps.onView(v);
    this.servedAt = this.clock.now();
    this.serveMs = this.servedAt - now;
  }

  /** Out of order once is replayed from the agent's own position; twice in a row is a broken chain. */
  private outOfOrder(m: JsMsg, meta: EnvelopeMeta, reason: string, cause?: unknown): Outcome {
    if (this.rewinds === 0) {
      this.rewinds++;
      this.stats.rewinds++;
      this.log.info(
        { seq: m.seq, held: this.current.view.version, from: meta.fromVersion, chunk: meta.chunk, reason },
        'out of order; replaying from the held position',
      );
      return 'rewind';
    }
    return this.reject(m, new FedmeshError(ErrorCode.VersionGap, reason, { cause }));
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

function isMaxBytesEnd(err: unknown): boolean {
  return (
    err instanceof JetStreamError &&
    (err as JetStreamError & { code?: number }).code === 409 &&
    /exceeds maxbytes/i.test(err.message)
  );
}

function validLink(link: unknown): RegionLink | undefined {
  const l = link as Partial<RegionLink> | undefined;
  if (!l || typeof l.bytesPerSecond !== 'number' || !(l.bytesPerSecond > 0)) return undefined;
  return typeof l.burstBytes === 'number' && l.burstBytes > 0
    ? { bytesPerSecond: l.bytesPerSecond, burstBytes: l.burstBytes }
    : { bytesPerSecond: l.bytesPerSecond };
}

function headerBytes(m: JsMsg): number {
  if (!m.headers) return 0;
  let n = 'NATS/1.0\r\n\r\n'.length;
  for (const [k, v] of m.headers) n += Buffer.byteLength(`${k}: ${v.join(',')}\r\n`);
  return n;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

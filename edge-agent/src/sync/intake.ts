/**
 * Message intake: one sync message in, one outcome out. A whole payload is decoded, verified
 * against the hub's hash, persisted and acknowledged (verify → persist → ack); a chunk is
 * spooled, and the payload applied once its last chunk is on disk. Anything out of order is
 * replayed once from the agent's own position; anything broken asks for a snapshot.
 */
import {
  applyPayload,
  type DeltaPayload,
  decodeBody,
  decompress,
  decompressStream,
  type EnvelopeMeta,
  type EnvelopeSignature,
  ErrorCode,
  FedmeshError,
  isFedmeshError,
  type Logger,
  MessageType,
  mirror,
  type RegionView,
  type ViewState,
} from '@fedmesh/shared';
import type { AgentState, JournalStep, StateStore } from '../state/file-store.js';
import type { RegionLink } from './line.js';
import type { ChunkSpool } from './spool.js';
import type { SyncCounters } from './types.js';

/** What intake needs of a delivered message (a `JsMsg` has it all). */
export interface SyncMessage {
  readonly data: Uint8Array;
  /** Stream sequence. */
  readonly seq: number;
  /** Messages still on the stream for this consumer after this one. */
  readonly pending: number;
  ack(): void;
}

/**
 * - `ok`: consumed (applied, skipped, spooled or dropped as a duplicate) and acknowledged;
 * - `rewind`: out of order; replay from the agent's own position (not acknowledged);
 * - `resync`: rejected (acknowledged); a fresh snapshot replaces whatever it meant.
 */
export type IntakeOutcome = 'ok' | 'rewind' | 'resync';

export interface IntakeDeps {
  region: string;
  store: StateStore;
  spool: ChunkSpool;
  log: Logger;
  stats: SyncCounters;
  /** Largest decoded payload accepted; a bigger one is rejected before it is allocated. */
  maxPayloadBytes: number;
  /** The Region's link as the hub announced it, kept with a spooled transfer. */
  hint: () => RegionLink | undefined;
  /** A view was verified and persisted; `caughtUp` when nothing is queued behind it. */
  onApplied: (view: RegionView, caughtUp: boolean) => void;
  /** A transfer moved on (a message decoded and handled). */
  onProgress?: () => void;
  /**
   * Throws when the message is not signed by a trusted hub key (trust.ts); called before
   * anything of the payload is spooled or decompressed. Absent: nothing is checked.
   */
  verify?: (payload: Uint8Array, signature: EnvelopeSignature | undefined) => Promise<void>;
  codec?: { decompress: typeof decompress; decompressStream: typeof decompressStream };
}

export interface Intake {
  /** Takes `state` (the persisted one, at start) as what the agent holds. */
  hold(state: AgentState): void;
  state(): AgentState;
  handle(m: SyncMessage): Promise<{ outcome: IntakeOutcome; meta?: EnvelopeMeta }>;
  /**
   * Persists, acknowledges and hands on the run of deltas applied since the last flush (the run
   * loop calls it at the end of every pull, and intake before anything that is not a delta of
   * the run). Until then they are verified and held in memory only.
   */
  flush(): Promise<void>;
}

/** Longest run of queued deltas applied before one journal write. */
export const MAX_RUN = 64;

/**
 * No payload the hub sends compresses better than this (canonical JSON views and deltas reach
 * tens to a few hundred to one). A body announcing more is a bomb, refused before anything is
 * decoded: decoding it only to find out would make the agent allocate what it announces, and a
 * freed buffer that big stays in the process until a garbage collection that an idle agent may
 * not run for a long time.
 */
export const MAX_COMPRESSION_RATIO = 4096;

function plausibleRatio(meta: EnvelopeMeta, compressed: number): void {
  if (meta.codec === 'identity' || meta.rawSize <= Math.max(1, compressed) * MAX_COMPRESSION_RATIO) return;
  throw new FedmeshError(
    ErrorCode.DecodeFailed,
    `payload of ${compressed} bytes announces ${meta.rawSize} decoded: more than ${MAX_COMPRESSION_RATIO}:1, refused as a bomb`,
  );
}

export function createIntake(deps: IntakeDeps): Intake {
  return new MessageIntake(deps);
}

class MessageIntake implements Intake {
  private current!: AgentState;
  /** Rewinds since the last message that moved the agent on: a second one in a row means a real gap. */
  private rewinds = 0;
  /** Mirror of the held view's encoding, so a delta is verified at the cost of its size; built on first use. */
  private cache: ViewState | undefined;
  private readonly codec: NonNullable<IntakeDeps['codec']>;
  /** Deltas applied in memory, not yet persisted nor acknowledged, and the state before them. */
  private run: { step: JournalStep; ack: () => void; pending: number }[] = [];
  private persisted!: AgentState;

  constructor(private readonly deps: IntakeDeps) {
    this.codec = deps.codec ?? { decompress, decompressStream };
  }

  hold(state: AgentState): void {
    this.current = state;
    this.persisted = state;
    this.run = [];
    this.cache = undefined;
  }

  async flush(): Promise<void> {
    if (this.run.length === 0) return;
    const run = this.run;
    this.run = [];
    try {
      await this.deps.store.recordRun(run.map((r) => r.step));
    } catch (err) {
      // Nothing of the run is acknowledged: back to what is on disk, the messages come again.
      this.current = this.persisted;
      this.cache = undefined;
      throw err;
    }
    this.persisted = this.current;
    for (const r of run) r.ack();
    this.deps.stats.applied += run.length;
    this.deps.log.info(
      { version: this.current.view.version, type: 'delta', deltas: run.length, hash: this.current.view.hash },
      'view applied',
    );
    this.deps.onApplied(this.current.view, run.at(-1)!.pending === 0);
  }

  state(): AgentState {
    return this.current;
  }

  async handle(m: SyncMessage): Promise<{ outcome: IntakeOutcome; meta?: EnvelopeMeta }> {
    const result = await this.handleOne(m);
    // The run ends at anything but an applied delta with more queued behind it.
    if (this.run.length > 0 && (result.outcome !== 'ok' || this.run.at(-1)!.step.state.streamSeq !== m.seq)) {
      await this.flush();
    }
    return result;
  }

  private async handleOne(m: SyncMessage): Promise<{ outcome: IntakeOutcome; meta?: EnvelopeMeta }> {
    let meta: EnvelopeMeta;
    let payload: Uint8Array;
    try {
      // The region is the subject's: the consumer only ever delivers this region's subject.
      let signature: EnvelopeSignature | undefined;
      ({ meta, payload, signature } = decodeBody(this.deps.region, m.data));
      await this.deps.verify?.(payload, signature);
      if (meta.type === MessageType.Urgent) {
        throw new FedmeshError(ErrorCode.DecodeFailed, 'an urgent message is not part of the chain');
      }
      if (meta.rawSize > this.deps.maxPayloadBytes) {
        throw new FedmeshError(ErrorCode.DecodeFailed, `payload of ${meta.rawSize} bytes is over the limit`);
      }
    } catch (err) {
      return { outcome: this.reject(m, err) };
    }
    const outcome =
      meta.chunk.count === 1
        ? await this.handleWhole(m, meta, payload)
        : await this.handleChunk(m, meta, payload);
    this.deps.onProgress?.();
    return { outcome, meta };
  }

  private async handleWhole(m: SyncMessage, meta: EnvelopeMeta, payload: Uint8Array): Promise<IntakeOutcome> {
    try {
      // Bounded by the size the envelope announces (itself under the limit): a bomb that
      // announces a small payload is stopped at that size, not at the limit.
      plausibleRatio(meta, payload.byteLength);
      const raw = await this.codec.decompress(meta.codec, payload, Math.max(1, meta.rawSize));
      if (raw.byteLength !== meta.rawSize) {
        throw new FedmeshError(
          ErrorCode.DecodeFailed,
          `payload decodes to ${raw.byteLength} bytes, not the announced ${meta.rawSize}`,
        );
      }
      return await this.applyDecoded(m, meta, raw, payload.byteLength);
    } catch (err) {
      return this.reject(m, err);
    }
  }

  /** Spools one chunk; applies the payload once its last chunk is on disk. */
  private async handleChunk(m: SyncMessage, meta: EnvelopeMeta, payload: Uint8Array): Promise<IntakeOutcome> {
    const { spool } = this.deps;
    const held = this.current.view;
    if (meta.toVersion < held.version || (meta.toVersion === held.version && meta.toHash === held.hash)) {
      // Part of something the agent already holds (a redelivery, a replica's duplicate).
      this.current = { ...this.current, streamSeq: m.seq };
      m.ack();
      return 'ok';
    }
    const bytesSoFar = spool.progress()?.bytes ?? 0;
    if (bytesSoFar + payload.byteLength > this.deps.maxPayloadBytes) {
      await spool.clear();
      return this.reject(m, new FedmeshError(ErrorCode.DecodeFailed, 'chunked payload is over the limit'));
    }
    let spooled: Awaited<ReturnType<ChunkSpool['accept']>>;
    try {
      spooled = await spool.accept(meta, m.seq, payload, this.deps.hint());
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
    this.deps.stats.chunksSpooled++;
    if (spooled === 'appended') {
      // The chunk is on disk: acknowledging it now costs nothing if the agent dies before the rest.
      m.ack();
      return 'ok';
    }
    const p = spool.progress()!;
    try {
      plausibleRatio(meta, p.bytes);
      const raw = await this.codec.decompressStream(
        meta.codec,
        spool.read(),
        meta.rawSize,
        this.deps.maxPayloadBytes,
      );
      const outcome = await this.applyDecoded(m, meta, raw, p.bytes);
      if (outcome === 'ok') await spool.clear(); // already held (skipped): nothing to keep either
      return outcome;
    } catch (err) {
      await spool.clear();
      return this.reject(m, err);
    }
  }

  /** Parses, verifies, persists and serves a decoded payload; throws when it is not acceptable. */
  private async applyDecoded(
    m: SyncMessage,
    meta: EnvelopeMeta,
    raw: Uint8Array,
    compressed: number,
  ): Promise<IntakeOutcome> {
    const { stats } = this.deps;
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
    stats.payloadBytes += compressed;
    stats.rawBytes += raw.byteLength;
    if (outcome.kind === 'skipped') {
      this.deps.log.debug({ seq: m.seq, reason: outcome.reason }, 'message skipped');
      this.current = { ...this.current, streamSeq: m.seq };
    } else {
      const next: AgentState = { view: outcome.view, streamSeq: m.seq };
      if (meta.type === MessageType.Delta && m.pending > 0 && this.run.length < MAX_RUN - 1) {
        // More queued behind it: one journal write, one ack round and one hand-over for the
        // run (flush). Verified already; held in memory until then.
        this.run.push({
          step: { state: next, fromVersion: meta.fromVersion, ops: (payload as DeltaPayload).ops },
          ack: () => m.ack(),
          pending: m.pending,
        });
        this.current = next;
        return 'ok';
      }
      if (this.run.length > 0 && meta.type === MessageType.Delta) {
        // The last of a run: it goes with the others.
        this.run.push({
          step: { state: next, fromVersion: meta.fromVersion, ops: (payload as DeltaPayload).ops },
          ack: () => m.ack(),
          pending: m.pending,
        });
        this.current = next;
        await this.flush();
        return 'ok';
      }
      await this.flush();
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
      if (meta.chunk.count > 1) await this.deps.spool.clear();
      this.current = next;
      this.persisted = next;
      stats.applied++;
      this.deps.log.info(
        { version: next.view.version, type: meta.type, hash: next.view.hash },
        'view applied',
      );
      this.deps.onApplied(next.view, m.pending === 0);
    }
    // Not ackAck: the agent restarts from its own persisted position, so the server's copy of
    // the ack floor needs no round trip, which on a long line would throttle a backlog of deltas.
    m.ack();
    return 'ok';
  }

  /** Out of order once is replayed from the agent's own position; twice in a row is a broken chain. */
  private outOfOrder(m: SyncMessage, meta: EnvelopeMeta, reason: string, cause?: unknown): IntakeOutcome {
    if (this.rewinds === 0) {
      this.rewinds++;
      this.deps.stats.rewinds++;
      this.deps.log.info(
        { seq: m.seq, held: this.current.view.version, from: meta.fromVersion, chunk: meta.chunk, reason },
        'out of order; replaying from the held position',
      );
      return 'rewind';
    }
    return this.reject(m, new FedmeshError(ErrorCode.VersionGap, reason, { cause }));
  }

  private reject(m: SyncMessage, err: unknown): 'resync' {
    const { stats } = this.deps;
    stats.rejected++;
    stats.lastError = (err as Error).message;
    const code = isFedmeshError(err) ? err.code : ErrorCode.Internal;
    this.deps.log.warn(
      { seq: m.seq, code, err: (err as Error).message },
      'sync message rejected; requesting a snapshot',
    );
    // Acked so the broken message is not redelivered; the snapshot replaces whatever it meant.
    m.ack();
    return 'resync';
  }
}

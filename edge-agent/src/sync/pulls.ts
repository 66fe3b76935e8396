/**
 * Paced pulls: how many bytes the agent may ask the stream for, and when. The token bucket is
 * charged with what the connection really received (line bytes, estimated), and each pull is
 * sized by the tokens there are and learns from what came, or did not fit, before.
 */
import { deliveryLineBytes, type EnvelopeMeta, type Logger, type RegionView } from '@fedmesh/shared';
import type { FetchOptions, JsMsg } from '@nats-io/jetstream';
import {
  type EffectiveBudget,
  effectiveBudget,
  lineBytes,
  pullBytesFor,
  type RegionLink,
  regionLink,
  tokensToPull,
} from './line.js';
import { type Clock, createRateMeter, createTokenBucket, systemClock, type TokenBucket } from './pacer.js';
import type { SyncCounters } from './types.js';

/** Smallest pull worth a round trip: about one small delta with its headers. */
export const MIN_PULL_BYTES = 1024;
/**
 * Largest pull, in seconds of budget: what an urgent message may find on the wire ahead of it.
 * Half a second keeps a line with a round trip up to that long at its budget.
 */
export const PULL_SLICE_SECONDS = 0.5;

/**
 * A pull is held by its consumer's leader; when that server dies, or the leadership of a consumer
 * just created moves while the cluster settles, the pull is gone, silently, and the client
 * notices only when two idle heartbeats have not come. At the 30 s heartbeat of a long pull that
 * was a region standing still for 60 to 90 s while its chain moved on (the chaos suite saw it on
 * every run). So a pull is long only once the line has shown it is quiet, by a pull that expired
 * empty; otherwise (messages flowing, a consumer just created or moved) it asks for a heartbeat
 * a second and expires in a few, and a lost one is noticed in about two seconds. Heartbeats come
 * only while nothing does: this costs a few of them each time the line goes quiet, and an idle
 * line stays as cheap as it was.
 */
export const BUSY_PULL_EXPIRES_MS = 5_000;
export const BUSY_HEARTBEAT_MS = 1_000;

export interface PullPacerDeps {
  /** Line bytes received since the previous poll (see `createLineCounter`). */
  counter: { poll(): number };
  /** The view the agent holds: its Region's link sets the budget. */
  view: () => RegionView;
  /** The Region's link as the hub announced it, until the agent holds its own Region. */
  hint: () => RegionLink | undefined;
  /** The agent's `--budget`: lowers the Region's budget, never raises it. */
  budgetBytesPerSecond?: number;
  /** Messages per pull when the line is not metered. */
  batch: number;
  pullExpiresMs: number;
  stats: SyncCounters;
  log: Logger;
  /** Aborts a wait for the budget (the client stops). */
  signal: AbortSignal;
  /** Called when the next pull has to wait for the budget. */
  onWait?: () => void;
  clock?: Clock;
  bucket?: TokenBucket;
}

export interface PullRequest {
  options: FetchOptions;
  /** The `max_bytes` asked for; 0 when the pull is sized in messages. */
  bytes: number;
}

/** The line right now, for the client's `line()`. */
export interface PacerStatus {
  budget: EffectiveBudget | null;
  tokens: number | null;
  receiveRate: number;
  /** Recent line bytes per message, for the queued-bytes estimate. */
  averageMessage: number;
}

export interface PullPacer {
  /** Waits until the budget allows a pull worth making, and sizes it by the tokens there are. */
  next(): Promise<PullRequest>;
  /** A paced pull brought nothing: the next message is bigger than what was asked for. */
  nothingFitted(asked: number): void;
  /** A pull brought messages; `last` and `room` are the last one's envelope and pull size. */
  delivered(last: EnvelopeMeta | undefined, room: number): void;
  /** A pull expired with nothing: the line is quiet, and the next pull a long one. */
  quiet(): void;
  /** Delivery starts again (a consumer created or moved): nothing is known of the line. */
  restarted(): void;
  /** Counts a sync message as it arrives and returns the tokens a pull needs to let one like it in. */
  measure(m: Pick<JsMsg, 'data' | 'subject' | 'headers'> & { reply?: string }): number;
  /** Charges the bucket and the meter for what the connection received since the last call. */
  charge(): void;
  /** The pull ended: tokens it paid for and did not use go back. */
  settle(): void;
  /** Applies the budget of the Region the agent holds (or that the hub announced), lowered by the flag. */
  refreshBudget(): void;
  /**
   * True once after the budget shrank: a pull sized under the old budget may still be filling
   * (it stays open until it expires), so the caller ends it and restarts delivery under the new one.
   */
  budgetShrank(): boolean;
  status(): PacerStatus;
}

export function createPullPacer(deps: PullPacerDeps): PullPacer {
  return new Pacer(deps);
}

class Pacer implements PullPacer {
  private readonly bucket: TokenBucket;
  private readonly meter;
  /** Tokens needed to pull the largest sync message seen: the bucket always holds at least that many. */
  private largestMessage = 0;
  private averageMessage = 0;
  /** Bytes the next pull must be able to take, learnt from what came (or did not fit) before. */
  private minPull = MIN_PULL_BYTES;
  private oversizePull = false;
  private shrank = false;
  /** Until a pull expires empty, pulls are short and closely watched (BUSY_PULL_EXPIRES_MS). */
  private busy = true;
  /**
   * Tokens paid up front for the pull in flight. Paying when asking, not when the bytes arrive,
   * keeps the refill that happens while a pull crosses a slow line from overflowing the bucket.
   */
  private reserved = 0;

  constructor(private readonly deps: PullPacerDeps) {
    const clock = deps.clock ?? systemClock;
    this.bucket = deps.bucket ?? createTokenBucket(undefined, clock);
    this.meter = createRateMeter(5_000, 10, clock);
  }

  async next(): Promise<PullRequest> {
    const long = this.deps.pullExpiresMs;
    const timing =
      this.busy && long > BUSY_PULL_EXPIRES_MS
        ? { expires: BUSY_PULL_EXPIRES_MS, idle_heartbeat: BUSY_HEARTBEAT_MS }
        : { expires: long };
    this.charge();
    this.refreshBudget();
    const budget = this.bucket.budget();
    if (!budget) return { options: { max_messages: this.deps.batch, ...timing }, bytes: 0 };
    const want = this.oversizePull ? budget.burstBytes : this.minPull;
    // About to wait for the budget: time enough to serve what is verified.
    if (this.bucket.available() < want) this.deps.onWait?.();
    this.deps.stats.pacedWaitMs += await this.bucket.waitFor(want, this.deps.signal);
    this.charge();
    if (this.oversizePull) {
      // A message larger than the whole bucket: take it alone on a full bucket and pay off the
      // debt before the next pull. The bucket grows to fit it once it is seen.
      return { options: { max_messages: 1, ...timing }, bytes: 0 };
    }
    // Everything a pull lets in is on the wire at once, ahead of an urgent message that shares
    // the connection: a full bucket goes out in slices of PULL_SLICE_SECONDS of budget (or the
    // room the next message needs, if that is more), not in one burst.
    const slice = Math.max(this.minPull, budget.bytesPerSecond * PULL_SLICE_SECONDS);
    const tokens = Math.min(Math.max(0, this.bucket.available()), slice);
    const bytes = Math.max(1, pullBytesFor(tokens));
    this.reserved = tokens;
    this.bucket.take(tokens);
    return { options: { max_bytes: bytes, ...timing }, bytes };
  }

  nothingFitted(asked: number): void {
    // Ask for more next time, up to a full bucket.
    const burst = this.bucket.budget()?.burstBytes ?? 0;
    if (asked >= pullBytesFor(burst)) this.oversizePull = true;
    else this.minPull = Math.min(burst, Math.max(asked * 2, this.minPull * 2));
  }

  delivered(last: EnvelopeMeta | undefined, room: number): void {
    this.oversizePull = false;
    this.busy = true;
    // Wait for room for a message like the last one before pulling again: the chunks of a
    // payload are all the same size but the last, and a backlog of deltas tends to be
    // uniform. After the last chunk of a payload, anything may come.
    this.minPull =
      last && last.chunk.index === last.chunk.count && last.chunk.count > 1
        ? MIN_PULL_BYTES
        : Math.max(MIN_PULL_BYTES, room);
  }

  measure(m: Pick<JsMsg, 'data' | 'subject' | 'headers'> & { reply?: string }): number {
    const headers = headerBytes(m);
    const body = m.data.byteLength + headers;
    const reply = m.reply ?? '';
    const cost = lineBytes(body, 1, deliveryLineBytes(m.subject, reply, headers, body));
    // What it takes to pull a message this size again: the next chunk of a payload is as big.
    const room = tokensToPull(body + m.subject.length + reply.length);
    this.deps.stats.messagesReceived++;
    this.deps.stats.bytesReceived += body;
    this.largestMessage = Math.max(this.largestMessage, room);
    this.averageMessage = this.averageMessage === 0 ? cost : this.averageMessage * 0.9 + cost * 0.1;
    return room;
  }

  quiet(): void {
    this.busy = false;
  }

  restarted(): void {
    this.busy = true;
  }

  /** What the pull in flight paid for already is taken from its reservation. */
  charge(): void {
    const bytes = this.deps.counter.poll();
    if (bytes === 0) return;
    const covered = Math.min(bytes, this.reserved);
    this.reserved -= covered;
    this.bucket.take(bytes - covered);
    this.meter.add(bytes);
    this.deps.stats.lineBytesReceived += bytes;
  }

  settle(): void {
    this.charge();
    if (this.reserved > 0) this.bucket.refund(this.reserved);
    this.reserved = 0;
  }

  refreshBudget(): void {
    const own = regionLink(this.deps.view());
    const next = effectiveBudget({
      link: own ?? this.deps.hint(),
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
      this.shrank = true;
    }
    this.bucket.setBudget(next);
    this.deps.log.info(
      next ? { bytesPerSecond: next.bytesPerSecond, burstBytes: next.burstBytes, source: next.source } : {},
      next ? 'line budget in force' : 'line not metered',
    );
  }

  budgetShrank(): boolean {
    const shrank = this.shrank;
    this.shrank = false;
    return shrank;
  }

  status(): PacerStatus {
    const budget = (this.bucket.budget() as EffectiveBudget | undefined) ?? null;
    return {
      budget,
      tokens: budget ? Math.floor(this.bucket.available()) : null,
      receiveRate: this.meter.rate(),
      averageMessage: this.averageMessage,
    };
  }
}

function headerBytes(m: Pick<JsMsg, 'headers'>): number {
  if (!m.headers) return 0;
  let n = 'NATS/1.0\r\n\r\n'.length;
  for (const [k, v] of m.headers) n += Buffer.byteLength(`${k}: ${v.join(',')}\r\n`);
  return n;
}

/**
 * The sync client: the run loop that keeps pulling. What it composes does the rest:
 * `position.ts` (where the consumer stands), `pulls.ts` (how much to pull, and when),
 * `intake.ts` (what one message means), `serve.ts` (when the proxies get a view).
 */
import {
  decodeBody,
  decodeUrgent,
  type EnvelopeMeta,
  type Logger,
  type RegionView,
  SYNC_STREAM,
  urgentSubject,
} from '@fedmesh/shared';
import { type ConsumerMessages, JetStreamError, type JsMsg } from '@nats-io/jetstream';
import type { Subscription } from '@nats-io/transport-node';
import type { AgentState } from '../state/file-store.js';
import { createIntake, type Intake, type IntakeOutcome, type SyncMessage } from './intake.js';
import { createLineCounter } from './line.js';
import { type Clock, systemClock } from './pacer.js';
import { type ConsumerPosition, createConsumerPosition } from './position.js';
import { createPullPacer, type PullPacer } from './pulls.js';
import { createServeThrottle, type ServeThrottle } from './serve.js';
import { type ChunkSpool, createChunkSpool } from './spool.js';
import { createStallWatch, type StallWatch } from './stall.js';
import {
  type LineStatus,
  type SyncClient,
  type SyncClientDeps,
  type SyncCounters,
  type UrgentStatus,
  zeroCounters,
} from './types.js';
import { createUrgentOverlay, type UrgentOverlay } from './urgent.js';

export type { LineStatus, SyncClient, SyncClientDeps, SyncCounters } from './types.js';

/**
 * The longest pause between two attempts to get delivery going again. Most failures here are
 * JetStream requests timing out (5 s) while the cluster elects leaders, so an attempt already
 * takes seconds; a pause that doubled up to 10 s on top of that left an agent idle for up to 15 s
 * after the cluster was back (the consumer-failover test, on a busy machine). One JetStream
 * request every few seconds per agent is nothing to the cluster.
 */
const RETRY_MAX_MS = 2_000;

/** How often a backlog that is still there is weighed again against a catch-up. */
const CATCH_UP_RECHECK_MS = 15_000;
/**
 * How long an open pull may bring nothing after the hub announced the chain ahead of the agent:
 * the chain's message leaves the hub right after the urgent one, so seconds are plenty.
 */
const STALL_MS = 3_000;

export function createSyncClient(deps: SyncClientDeps): SyncClient {
  return new Client(deps);
}

class Client implements SyncClient {
  private readonly stats: SyncCounters = zeroCounters();
  private stopped = false;
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly spool: ChunkSpool;
  private readonly position: ConsumerPosition;
  private readonly pacer: PullPacer;
  private readonly intake: Intake;
  /** Sync messages still on the stream for this region, as of the last one received. */
  private queued = 0;
  private readonly throttle: ServeThrottle;
  /** When the run loop last asked whether a backlog has a cheaper way to the head. */
  private lastCatchUpCheck = 0;
  private readonly overlay: UrgentOverlay | undefined;
  private urgentSub: Subscription | undefined;
  /** Urgent messages are handled one at a time, in the order they arrive. */
  private urgentQueue: Promise<void> = Promise.resolve();
  /**
   * Delivery starts again at the agent's own position before the next pull: the connection came
   * back, or the stall watch ended a pull that brought nothing while the chain moved on.
   */
  private restartDelivery = false;
  private readonly stall: StallWatch;
  private stallTimer: NodeJS.Timeout | undefined;
  /** A fetch is open: the agent waits for messages, not for its budget. */
  private pullOpen = false;

  constructor(private readonly deps: SyncClientDeps) {
    const log = deps.logger.child({ component: 'sync' });
    this.log = log;
    this.clock = deps.clock ?? systemClock;
    this.stall = createStallWatch(this.clock, STALL_MS);
    this.spool = createChunkSpool(deps.spoolDir);
    this.overlay = deps.urgentDir === undefined ? undefined : createUrgentOverlay(deps.urgentDir);
    // Proxies get the verified view with whatever the urgent lane put ahead of it on top.
    this.throttle = createServeThrottle(this.clock, (view) =>
      deps.onView(this.overlay ? this.overlay.compose(view) : view),
    );
    const { stats, spool } = this;
    const state = () => this.intake.state();
    this.position = createConsumerPosition({
      region: deps.region,
      nc: deps.nc,
      jsm: deps.jsm,
      spool,
      log,
      stats,
      state,
      ...(deps.acceptedCodecs ? { acceptedCodecs: deps.acceptedCodecs } : {}),
      catchUpAfterMessages: deps.options.catchUpAfterMessages,
      onHint: () => this.pacer.refreshBudget(),
      onPending: (messages) => {
        this.queued = messages;
      },
    });
    this.pacer = createPullPacer({
      counter: createLineCounter(() => deps.nc.stats()),
      view: () => state().view,
      hint: () => this.position.hint(),
      ...(deps.budgetBytesPerSecond === undefined ? {} : { budgetBytesPerSecond: deps.budgetBytesPerSecond }),
      batch: deps.options.batch,
      pullExpiresMs: deps.options.pullExpiresMs,
      stats,
      log,
      signal: this.abort.signal,
      onWait: () => this.serve(undefined, true),
      clock: this.clock,
    });
    this.intake = createIntake({
      region: deps.region,
      store: deps.store,
      spool,
      log,
      stats,
      maxPayloadBytes: deps.options.maxPayloadBytes,
      hint: () => this.position.hint(),
      ...(deps.trust
        ? { verify: (payload, signature) => deps.trust!.verify(deps.region, payload, signature) }
        : {}),
      onApplied: (view, caughtUp) => {
        this.pacer.refreshBudget();
        // Entries the chain now holds leave the overlay (synchronously; persisted after).
        this.overlay
          ?.settle(view)
          .catch((err) =>
            this.log.warn({ err: (err as Error).message }, 'cannot persist the urgent overlay'),
          );
        deps.onApplied?.(view);
        this.serve(view, caughtUp);
      },
      ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
    });
  }

  state(): AgentState {
    return this.intake.state();
  }

  counters(): Readonly<SyncCounters> {
    this.pacer.charge();
    return this.stats;
  }

  line(): LineStatus {
    this.pacer.charge();
    const { budget, tokens, receiveRate: rate, averageMessage } = this.pacer.status();
    const queuedBytes = Math.round(this.queued * averageMessage);
    const p = this.spool.progress();
    return {
      budget,
      tokens,
      receiveRate: Math.round(rate),
      utilization: budget ? round3(rate / budget.bytesPerSecond) : null,
      streamSeq: this.position.position(),
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

  urgent(): UrgentStatus {
    const c = this.overlay?.counters() ?? { received: 0, confirmed: 0, dropped: 0, expired: 0 };
    return { serving: this.overlay?.size() ?? 0, ...c, rejected: this.stats.urgentRejected };
  }

  async start(initial: AgentState): Promise<void> {
    this.intake.hold(initial);
    this.throttle.served();
    if (this.overlay) {
      await this.overlay.load();
      await this.overlay.settle(initial.view);
      if (this.overlay.size() > 0) this.throttle.serve(initial.view, true);
      this.urgentSub = this.deps.nc.subscribe(urgentSubject(this.deps.region), {
        callback: (err, msg) => {
          if (err) return;
          const data = msg.data;
          this.urgentQueue = this.urgentQueue.then(() => this.onUrgent(data));
        },
      });
    }
    await this.position.restore();
    this.pacer.refreshBudget();
    this.watchConnection();
    this.stallTimer = setInterval(() => this.checkStall(), 1_000);
    this.stallTimer.unref();
    this.loop = this.run();
  }

  /** Ends the open pull when the stall watch says so (see stall.ts). */
  private checkStall(): void {
    if (this.stopped) return;
    const stalled = this.stall.check({
      held: this.intake.state().view.version,
      pullOpen: this.pullOpen,
      lineBytes: this.deps.nc.stats().inBytes,
    });
    if (!stalled) return;
    this.stats.stalls++;
    this.log.warn(
      { stallMs: STALL_MS },
      'the hub announced the chain ahead and the open pull brought nothing; pulling again from the agent position',
    );
    this.restartDelivery = true;
    this.messages?.stop(new Error('the pull brought nothing while the chain moved on'));
  }

  /**
   * A pull open when the connection broke may have gone with the server that held it, and nats.js
   * asks after it again only after a back-off as long as the pull's expiry (two minutes), with
   * its heartbeat watch off meanwhile: a region stood still that long. So a reconnect ends the
   * open pull, and delivery starts again right after what the agent consumed.
   */
  private watchConnection(): void {
    (async () => {
      for await (const s of this.deps.nc.status()) {
        if (s.type !== 'reconnect' || this.stopped) continue;
        this.restartDelivery = true;
        this.messages?.stop(new Error('NATS reconnected; pulling again from the agent position'));
      }
    })().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.stallTimer);
    this.urgentSub?.unsubscribe();
    await this.urgentQueue;
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
        await this.position.ensure();
        await this.position.catchUpIfBehind();
        this.lastCatchUpCheck = this.clock.now();
        backoff = 250;
        await this.pullUntilReset();
      } catch (err) {
        this.serve(undefined, true); // whatever was verified is served through an outage
        if (this.stopped) break;
        // Messages delivered to a broken connection come back only after the ack wait, behind
        // newer ones: start again from our own position rather than from the consumer's.
        this.position.detach();
        this.restartDelivery = false;
        this.stats.lastError = (err as Error).message;
        this.log.warn({ err: (err as Error).message }, 'sync interrupted; retrying');
        await this.clock.sleep(backoff, this.abort.signal);
        backoff = Math.min(backoff * 2, RETRY_MAX_MS);
      }
    }
  }

  private async pullUntilReset(): Promise<void> {
    const consumer = await this.deps.js.consumers.get(SYNC_STREAM, this.position.durable);
    this.pacer.restarted();
    while (!this.stopped) {
      const asked = await this.pacer.next();
      if (this.stopped) return;
      if (this.restartDelivery) {
        this.restartDelivery = false;
        this.pacer.settle();
        this.position.detach();
        return;
      }
      let batch: ConsumerMessages;
      try {
        batch = await consumer.fetch(asked.options);
      } catch (err) {
        this.pacer.settle();
        throw err;
      }
      this.pullOpen = true;
      this.messages = batch;
      let delivered = 0;
      let reset: IntakeOutcome = 'ok';
      let last: EnvelopeMeta | undefined;
      let lastRoom = 0;
      let rejectedSeq: number | undefined;
      let overflow = false;
      try {
        for await (const m of batch) {
          delivered++;
          const room = this.receive(m);
          if (this.position.isRejected(m.seq)) {
            // Rejected once already; the catch-up that followed started before it.
            m.ack();
            continue;
          }
          const { outcome, meta } = await this.intake.handle(narrow(m));
          if (outcome === 'resync') rejectedSeq = m.seq;
          last = meta;
          lastRoom = room;
          if (outcome !== 'ok') {
            reset = outcome;
            break;
          }
          if (this.pacer.budgetShrank()) {
            // What the open pull would still bring was paid for under the old budget; the
            // messages it already handed over but we did not handle come back after a rewind.
            reset = 'rewind';
            break;
          }
        }
      } catch (err) {
        // A pull sized in bytes ends with a 409 once the next message does not fit: the normal
        // end of a paced batch, not a failure.
        overflow = isMaxBytesEnd(err);
        if (!overflow) {
          // What was applied of the pull is verified: persist it before starting over (a failed
          // write puts intake back to what is on disk, and the messages come again).
          await this.intake.flush().catch(() => undefined);
          this.pacer.settle();
          throw err;
        }
        if (delivered === 0) this.pacer.nothingFitted(asked.bytes);
      } finally {
        this.pullOpen = false;
      }
      // Whatever run of deltas the pull brought is persisted and acknowledged before the next.
      await this.intake.flush();
      this.pacer.settle();
      this.serve(undefined, this.queued === 0);
      if (reset !== 'ok') {
        await batch.close().catch(() => undefined);
        if (reset === 'rewind') await this.position.rewind();
        else await this.position.resync(rejectedSeq);
        return;
      }
      if (delivered > 0) this.pacer.delivered(last, lastRoom);
      else if (!overflow) this.pacer.quiet();
      // Still far behind after a while of replaying (changes keep coming faster than the line
      // drains them): ask again whether the head is cheaper to reach another way.
      if (this.queued > 0 && this.clock.now() - this.lastCatchUpCheck > CATCH_UP_RECHECK_MS) {
        this.lastCatchUpCheck = this.clock.now();
        if (await this.position.catchUpIfBehind(this.queued)) return;
      }
    }
  }

  /** An urgent message: verified on its own digest, served at once over the held view, persisted. */
  private async onUrgent(data: Uint8Array): Promise<void> {
    let msg: Awaited<ReturnType<typeof decodeUrgent>>;
    try {
      if (this.deps.trust) {
        const { payload, signature } = decodeBody(this.deps.region, data);
        await this.deps.trust.verify(this.deps.region, payload, signature);
      }
      msg = await decodeUrgent(this.deps.region, data);
    } catch (err) {
      this.stats.urgentRejected++;
      this.log.warn({ err: (err as Error).message }, 'urgent message rejected');
      return;
    }
    const held = this.intake.state().view;
    if (msg.toVersion > held.version) this.stall.announced(msg.toVersion, this.deps.nc.stats().inBytes);
    // No entries: a nudge, only saying where the chain stands.
    if (Object.keys(msg.entries).length === 0) return;
    if (!this.overlay!.accept(msg, held)) return;
    // Served first, persisted after: the chain behind it is the backup, and an fsync under a
    // busy journal is what the urgent lane must not wait for.
    this.throttle.serve(held, true);
    this.log.info(
      { toVersion: msg.toVersion, keys: Object.keys(msg.entries).length },
      'urgent change served ahead of the chain',
    );
    await this.overlay!.written().catch((err) =>
      // Served from memory all the same; a restart before the next write loses it to the chain.
      this.log.warn({ err: (err as Error).message }, 'cannot persist the urgent overlay'),
    );
  }

  /** Counts a message on the line; returns the tokens a pull needs to let one like it in. */
  private receive(m: JsMsg): number {
    this.stall.delivered(this.deps.nc.stats().inBytes);
    const room = this.pacer.measure(m);
    this.queued = m.info.pending;
    this.pacer.charge();
    return room;
  }

  private serve(view: RegionView | undefined, caughtUp: boolean): void {
    this.throttle.serve(view, caughtUp);
  }
}

/** The part of a delivered message that intake looks at. */
function narrow(m: JsMsg): SyncMessage {
  return {
    data: m.data,
    seq: m.seq,
    pending: m.info.pending,
    ack: () => m.ack(),
  };
}

function isMaxBytesEnd(err: unknown): boolean {
  return (
    err instanceof JetStreamError &&
    (err as JetStreamError & { code?: number }).code === 409 &&
    /exceeds maxbytes/i.test(err.message)
  );
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

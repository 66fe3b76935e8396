/**
 * The sync client's public shapes, apart from the modules that implement it (consumer position,
 * pacing, intake, run loop), so that those import them without importing each other in a circle.
 */
import type { Logger, RegionView } from '@fedmesh/shared';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AgentState, StateStore } from '../state/file-store.js';
import type { EffectiveBudget } from './line.js';
import type { Clock } from './pacer.js';
import type { SyncTrust } from './trust.js';

export interface SyncCounters {
  messagesReceived: number;
  /** Bytes of sync messages received (payload and headers). */
  bytesReceived: number;
  /** Everything the downlink carried for this agent, estimated: sync messages, protocol, TCP/IP. */
  lineBytesReceived: number;
  applied: number;
  rejected: number;
  resyncs: number;
  /** Backlogs the agent did not replay: the hub answered with a coalesced delta, a snapshot or "at the head". */
  catchUps: number;
  /** Replays from the agent's own position after out-of-order delivery (not an error). */
  rewinds: number;
  /** Chunks written to the spool, and chunked transfers picked up where a previous attempt stopped. */
  chunksSpooled: number;
  resumes: number;
  /** Pulls ended by the stall watch: the hub announced the chain ahead and nothing came (stall.ts). */
  stalls: number;
  /** Compressed and uncompressed bytes of the payloads decoded: their ratio is the compression ratio. */
  payloadBytes: number;
  rawBytes: number;
  /** Time spent waiting for the budget to allow the next pull. */
  pacedWaitMs: number;
  /** Urgent messages refused (undecodable, digest mismatch). */
  urgentRejected: number;
  lastError?: string;
}

/** Every counter at zero: where a client (or a test) starts. */
export function zeroCounters(): SyncCounters {
  return {
    messagesReceived: 0,
    bytesReceived: 0,
    lineBytesReceived: 0,
    applied: 0,
    rejected: 0,
    resyncs: 0,
    catchUps: 0,
    rewinds: 0,
    chunksSpooled: 0,
    resumes: 0,
    stalls: 0,
    payloadBytes: 0,
    rawBytes: 0,
    pacedWaitMs: 0,
    urgentRejected: 0,
  };
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
  /**
   * Where the urgent lane's overlay is persisted (the state dir); without it the agent does not
   * listen on `fedmesh.urgent.<region>`.
   */
  urgentDir?: string;
  /** The agent's `--budget`: lowers the Region's `link.budget`, never raises it. */
  budgetBytesPerSecond?: number;
  /** Which hub keys sign what the agent accepts (trust.ts); absent: nothing is checked. */
  trust?: SyncTrust;
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
    /** A backlog longer than this many messages asks the hub for the cheapest catch-up. */
    catchUpAfterMessages: number;
  };
}

export interface SyncClient {
  start(initial: AgentState): Promise<void>;
  stop(): Promise<void>;
  state(): AgentState;
  counters(): Readonly<SyncCounters>;
  line(): LineStatus;
  /** The urgent lane: entries served ahead of the chain now, and what became of earlier ones. */
  urgent(): UrgentStatus;
}

export interface UrgentStatus {
  serving: number;
  received: number;
  confirmed: number;
  dropped: number;
  expired: number;
  rejected: number;
}

import type {
  CatchUpReply,
  CatchUpRequest,
  Logger,
  RegionView,
  Resource,
  ResourceRef,
  SigningKey,
} from '@fedmesh/shared';
import type { Operation } from 'fast-json-patch';
import type { ConfigStore } from '../store/index.js';
import type { OutgoingMessage } from './encoder.js';
import type { PublishResult, StreamHead, SyncPublisher } from './publisher.js';
import type { UrgentLane } from './urgent.js';

export interface SyncEngineOptions {
  /**
   * Quiet time that ends a burst of changes, so a burst becomes one delta per region; a change
   * after at least this long without one is published at once.
   */
  debounceMs: number;
  /** Longest a change may wait under a continuous burst. */
  maxWaitMs: number;
  chunkSize: number;
  compressionLevel?: number;
  /** Delay before retrying a publication that failed (NATS down, stream full). */
  retryMs?: number;
  /**
   * A snapshot replaces the next delta once this many deltas followed the last snapshot, so the
   * chain an agent may have to replay stays short (a keyframe).
   */
  keyframeEvery?: number;
  /** When the size of a backlog is not known: longest one a catch-up replays rather than replaces. */
  maxReplayMessages?: number;
  /**
   * Coalescing under throttle: while a region's queue would take longer than this to drain at
   * its budget, its intermediate states are held back and the latest goes once the queue is
   * shorter. 0 or absent publishes every state.
   */
  coalesceAfterMs?: number;
  /** Signs every message the engine publishes (`--signing-key`). */
  signingKey?: SigningKey;
}

export interface RegionSyncStats {
  /**
   * Bytes this hub put on the region's subject (payload and headers) since it started; a
   * publication JetStream deduplicated stored nothing and is not counted (nor in the counts below).
   */
  bytesSent: number;
  messagesSent: number;
  snapshotsSent: number;
  deltasSent: number;
  /** Uncompressed bytes of those payloads, for the compression ratio. */
  rawBytes: number;
  lastPublishedAt?: Date;
  lastError?: string;
  /** Stream head: what the region's chain says, as last published or read. */
  head?: StreamHead;
  /** Since when the region's changes are held back while its queue drains (coalescing). */
  holdingSince?: Date;
  /** Publication rounds whose states were superseded before they went out, since the hub started. */
  coalescedRounds: number;
}

export interface SyncEngine {
  /** Loads the config, reads every region's stream head and publishes what is out of date. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The view a region should hold now. */
  view(region: string): RegionView | undefined;
  /**
   * Where a region's view stands (version and hash) without building it: status and metrics ask
   * for every region on every call, and building the views sorted all of them each time (58 % of
   * the hub's CPU at Alibaba scale while the REST benchmark read /metrics every 200 ms).
   */
  head(region: string): { version: number; hash: string } | undefined;
  regions(): string[];
  stats(region: string): RegionSyncStats | undefined;
  /** A resource as the engine last saw it in the config (for reference checks). */
  resource(ref: ResourceRef): Resource | undefined;
  /** The same with the revision of its last write (what an update can be pinned to). */
  stored(ref: ResourceRef): { resource: Resource; revision: number } | undefined;
  /** Config revision the engine has processed. */
  revision(): number;
  /**
   * The current config from the engine's watch cache, once it has caught up with `atLeast`
   * (the store's latest revision), so a list right after a write includes the write.
   */
  list(
    filter: { kind?: string; namespace?: string },
    atLeast: number,
  ): Promise<{ resource: Resource; revision: number }[]>;
  /** Publishes a full snapshot of the region's view; returns the stream sequence of its first message. */
  publishSnapshot(region: string): Promise<{ seq: number; version: number; hash: string }>;
  /**
   * The cheapest way for an agent to reach the head of its region's chain (current, replay, a
   * coalesced delta or a snapshot), published when it takes a publication.
   */
  catchUp(
    region: string,
    request: CatchUpRequest & { reason: NonNullable<CatchUpRequest['reason']> },
  ): Promise<CatchUpReply>;
  /**
   * An operator asked for these writes to go urgent (`?urgent=true`): their view entries go on
   * the urgent lane of every region they reach whose line is behind.
   */
  markUrgent(ref: ResourceRef): void;
  /** Publishes pending changes now (tests, shutdown, reads that must be current). */
  flush(): Promise<void>;
  /** Sets the codecs a region accepts (from its agent's status reports). */
  setAcceptedCodecs(region: string, codecs: readonly string[]): void;
  /** What the region would receive if `proposed` were applied: the ops and their size on the line. */
  preview(region: string, proposed: readonly Resource[]): Promise<RegionPreview>;
}

export interface RegionPreview {
  region: string;
  fromHash: string;
  toHash: string;
  ops: Operation[];
  codec: string;
  /** Canonical JSON of the ops, before compression. */
  rawBytes: number;
  /** Payload bytes after compression, and the number of sync messages (chunks) they take. */
  encodedBytes: number;
  messages: number;
}

export interface SyncEngineDeps {
  store: ConfigStore;
  publisher: SyncPublisher;
  logger: Logger;
  options: SyncEngineOptions;
  /** Called after every publication (metrics, line accounting); `messages` are what was published. */
  onPublished?: (
    region: string,
    kind: 'delta' | 'snapshot',
    result: PublishResult,
    rawBytes: number,
    messages: readonly OutgoingMessage[],
  ) => void;
  /**
   * Called when a round of changes is on the stream for every region it reached, with how long
   * each change waited from its arrival on the config watch (ms): the hub's share of convergence.
   */
  onChangesPublished?: (waitedMs: readonly number[]) => void;
  /** Told how long each publication round took, from its flush to the last region's acknowledgement. */
  onRound?: (ms: number) => void;
  /**
   * Bytes published for a region after a stream sequence (the line ledger), for catch-up
   * decisions; undefined when not known.
   */
  replayBytes?: (region: string, after: number) => number | undefined;
  /** Sends urgent changes ahead of a region's backlog (hub/src/sync/urgent.ts). */
  urgentLane?: UrgentLane;
  /**
   * How long the region's queued bytes take to drain at its budget (ms), as its agent last
   * reported; undefined when not known (no budget, or the agent is silent), which never holds.
   */
  lineDrainMs?: (region: string) => number | undefined;
}

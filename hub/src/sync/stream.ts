import { SYNC_STREAM, SYNC_SUBJECT_PREFIX } from '@fedmesh/shared';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';

export interface SyncStreamOptions {
  /** How long sync messages are kept; an agent away longer than this resyncs from a snapshot. */
  maxAgeMs: number;
  /** Upper bound on the stream's size on disk. */
  maxBytes: number;
  replicas: number;
  /** JetStream dedup window for `Nats-Msg-Id`; covers two hub replicas publishing the same delta. */
  duplicateWindowMs: number;
}

export const DEFAULT_SYNC_STREAM: SyncStreamOptions = {
  maxAgeMs: 24 * 3600_000,
  maxBytes: 1024 * 1024 * 1024,
  replicas: 1,
  duplicateWindowMs: 2 * 60_000,
};

/** Creates the sync stream, or updates its limits when they changed. */
export async function ensureSyncStream(jsm: JetStreamManager, opts: SyncStreamOptions): Promise<void> {
  const config = {
    name: SYNC_STREAM,
    subjects: [`${SYNC_SUBJECT_PREFIX}.*`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: opts.maxAgeMs * 1_000_000,
    max_bytes: opts.maxBytes,
    num_replicas: opts.replicas,
    duplicate_window: opts.duplicateWindowMs * 1_000_000,
  };
  try {
    await jsm.streams.info(SYNC_STREAM);
    await jsm.streams.update(SYNC_STREAM, config);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
}

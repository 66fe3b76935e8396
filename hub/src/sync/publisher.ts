import {
  decodeBody,
  ErrorCode,
  FedmeshError,
  messageId,
  SYNC_STREAM,
  signatureProblem,
  syncHeaderBytes,
  syncSubject,
  type TrustedKeys,
} from '@fedmesh/shared';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { OutgoingMessage } from './encoder.js';

/** What the last message on a region's subject says: where the region's chain stands. */
export interface StreamHead {
  seq: number;
  version: number;
  hash: string;
}

export interface PublishResult {
  /** Stream sequence of the first and last message published. */
  firstSeq: number;
  lastSeq: number;
  bytes: number;
  /** True when JetStream recognised every message as a duplicate (another replica published it). */
  duplicate: boolean;
}

export interface SyncPublisher {
  head(region: string): Promise<StreamHead | undefined>;
  /**
   * Publishes a region's messages in order, each expecting the previous one as the subject's
   * last message: if another hub replica published in between, nothing interleaves and a
   * `revision_mismatch` error is thrown so the caller can re-read the head and retry.
   */
  publish(region: string, messages: OutgoingMessage[], expectedSeq: number): Promise<PublishResult>;
}

/**
 * `trust`: the keys this hub signs with. A head they did not sign (forged, or garbage) is read as
 * a broken chain, so the hub publishes a snapshot after it rather than trusting its version: a
 * forged head at version 10^9 cannot make the hub believe another replica is ahead.
 */
export function createSyncPublisher(
  js: JetStreamClient,
  jsm: JetStreamManager,
  trust?: TrustedKeys,
): SyncPublisher {
  return {
    async head(region) {
      const m = await jsm.streams
        .getMessage(SYNC_STREAM, { last_by_subj: syncSubject(region) })
        .catch((err) => {
          if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
          throw err;
        });
      if (!m) return undefined;
      try {
        const { meta, payload, signature } = decodeBody(region, m.data);
        if (trust && signatureProblem(region, payload, signature, trust)) return brokenAt(m.seq);
        return { seq: m.seq, version: meta.toVersion, hash: meta.toHash };
      } catch {
        return brokenAt(m.seq);
      }
    },

    async publish(region, messages, expectedSeq) {
      let expected = expectedSeq;
      let firstSeq = 0;
      let bytes = 0;
      let duplicate = true;
      for (const msg of messages) {
        try {
          // The envelope is in the body; the only headers are JetStream's own, for dedup and
          // per-subject optimistic concurrency.
          const ack = await js.publish(syncSubject(region), msg.data, {
            msgID: messageId(msg.meta),
            expect: { lastSubjectSequence: expected },
          });
          if (firstSeq === 0) firstSeq = ack.seq;
          duplicate &&= ack.duplicate;
          bytes += msg.data.byteLength + headerBytes(expected);
          expected = ack.seq;
        } catch (err) {
          const code = err instanceof JetStreamApiError ? err.code : undefined;
          if (code === JetStreamApiCodes.StreamWrongLastSequence) {
            throw new FedmeshError(
              ErrorCode.RevisionMismatch,
              `another publisher advanced ${syncSubject(region)}`,
              {
                cause: err,
              },
            );
          }
          throw new FedmeshError(
            ErrorCode.Unavailable,
            `cannot publish to ${SYNC_STREAM}: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
      }
      return { firstSeq, lastSeq: expected, bytes, duplicate };
    },
  };
}

/** Not one of ours (garbage, or not signed by this hub): the chain is broken from here. */
function brokenAt(seq: number): StreamHead {
  return { seq, version: -1, hash: '' };
}

/** Bytes of the NATS header block a sync message carries (see `syncHeaderBytes` in shared). */
export const headerBytes = syncHeaderBytes;

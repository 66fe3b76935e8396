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
  type MsgRequest,
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
      const subject = syncSubject(region);
      let expected = expectedSeq;
      let firstSeq = 0;
      let bytes = 0;
      let duplicate = true;
      for (let i = 0; i < messages.length; i++) {
        const msg = messages[i]!;
        let ack: { seq: number; duplicate: boolean };
        try {
          // The envelope is in the body; the only headers are JetStream's own, for dedup and
          // per-subject optimistic concurrency.
          ack = await js.publish(subject, msg.data, {
            msgID: messageId(msg.meta),
            expect: { lastSubjectSequence: expected },
          });
        } catch (err) {
          throw publishError(err, subject);
        }
        if (firstSeq === 0) firstSeq = ack.seq;
        duplicate &&= ack.duplicate;
        bytes += msg.data.byteLength + headerBytes(expected);
        expected = ack.seq;
        if (ack.duplicate) {
          const skipped = await followEarlierCopy(jsm, subject, messages, i, ack.seq);
          i += skipped.count;
          expected = skipped.lastSeq;
        }
      }
      return { firstSeq, lastSeq: expected, bytes, duplicate };
    },
  };
}

/**
 * A duplicate ack names the copy an earlier publication (this replica's, or another's, within the
 * dedup window) put on the stream, at its own sequence. The next message, expecting that copy as
 * the subject's last, is then refused whenever the subject went on past it: a clustered stream's
 * leader checks the expected last sequence before it looks for duplicates (a single server looks
 * first, so only a cluster showed it). That was every forced snapshot of a region whose head was
 * the same multi-chunk snapshot: an agent's resync failed five times over, for as long as the
 * version stood (issue 16). So the earlier copy is followed on the subject: while its next
 * message is our next one, that is on the stream already and is not published again. Returns how
 * many were, and the sequence of the last message of ours on the stream.
 */
async function followEarlierCopy(
  jsm: JetStreamManager,
  subject: string,
  messages: readonly OutgoingMessage[],
  at: number,
  seq: number,
): Promise<{ count: number; lastSeq: number }> {
  let count = 0;
  let lastSeq = seq;
  for (let i = at + 1; i < messages.length; i++) {
    const next = await jsm.streams
      // `next_by_subj`: the subject's first message at or after `seq` (nats-server 2.9 and later).
      .getMessage(SYNC_STREAM, { seq: lastSeq + 1, next_by_subj: subject } as unknown as MsgRequest)
      .catch((err) => {
        throw publishError(err, subject);
      });
    // Nothing after the copy: the earlier publication stopped there, and ours goes on from it.
    if (!next) break;
    if (next.header?.get('Nats-Msg-Id') !== messageId(messages[i]!.meta)) {
      // Cut short, and the subject went on with something else: what follows cannot be chained
      // to it. The caller reads the head and decides again.
      throw new FedmeshError(
        ErrorCode.RevisionMismatch,
        `an earlier copy of this publication on ${subject} was cut short by another message`,
      );
    }
    count++;
    lastSeq = next.seq;
  }
  return { count, lastSeq };
}

function publishError(err: unknown, subject: string): FedmeshError {
  const code = err instanceof JetStreamApiError ? err.code : undefined;
  if (code === JetStreamApiCodes.StreamWrongLastSequence) {
    return new FedmeshError(ErrorCode.RevisionMismatch, `another publisher advanced ${subject}`, {
      cause: err,
    });
  }
  return new FedmeshError(
    ErrorCode.Unavailable,
    `cannot publish to ${SYNC_STREAM}: ${(err as Error).message}`,
    {
      cause: err,
    },
  );
}

/** Not one of ours (garbage, or not signed by this hub): the chain is broken from here. */
function brokenAt(seq: number): StreamHead {
  return { seq, version: -1, hash: '' };
}

/** Bytes of the NATS header block a sync message carries (see `syncHeaderBytes` in shared). */
export const headerBytes = syncHeaderBytes;

/**
 * What a sync message costs on the line besides its body, counted the same way by the hub (what
 * it published), the agent (what it pays its budget for) and the benchmarks. Measured against
 * nats-server 2.9.10 with a raw protocol client (docs/protocol.md, "What the framing costs").
 */
import { SYNC_STREAM } from '../names.js';

/** Length of the message ids `messageId()` makes. */
export const MESSAGE_ID_LENGTH = 12;

/**
 * The NATS header block of a sync message: `NATS/1.0`, `Nats-Msg-Id` and
 * `Nats-Expected-Last-Subject-Sequence` (JetStream stores and delivers both), CRLFs. The
 * envelope is in the body, not here.
 */
export function syncHeaderBytes(expectedSeq: number): number {
  return (
    'NATS/1.0\r\n\r\n'.length +
    'Nats-Msg-Id: \r\n'.length +
    MESSAGE_ID_LENGTH +
    'Nats-Expected-Last-Subject-Sequence: \r\n'.length +
    String(expectedSeq).length
  );
}

/**
 * `HMSG <subject> <sid> <reply> <header bytes> <total bytes>\r\n` before a delivered message and
 * the CRLF after it. The subscription id is a few digits; the server does not count this line
 * against a pull's `max_bytes`, the line carries it all the same.
 */
export function deliveryLineBytes(
  subject: string,
  reply: string,
  headerBytes: number,
  totalBytes: number,
): number {
  return (
    'HMSG '.length +
    subject.length +
    ' 99 '.length +
    reply.length +
    1 +
    String(headerBytes).length +
    1 +
    String(totalBytes).length +
    '\r\n'.length +
    '\r\n'.length
  );
}

/**
 * JetStream's ack subject, the reply of every delivered message:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ns timestamp>.<pending>`.
 * An estimate for figures made without a server (the agent reads the real one).
 */
export function ackSubjectBytes(consumer: string, streamSeq: number, pending = 0): number {
  return (
    `$JS.ACK.${SYNC_STREAM}.${consumer}.1.`.length +
    2 * String(streamSeq).length +
    '..'.length +
    19 + // nanoseconds since the epoch, for the next three centuries
    1 +
    String(pending).length
  );
}

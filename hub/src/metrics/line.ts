/**
 * What the hub has put on each region's line and what of it still waits there. The stream is the
 * queue: bytes published after the position an agent reports consuming are bytes the region's
 * line has yet to carry, and at the region's budget they take a known time to drain.
 */
import type { PublishResult } from '../sync/publisher.js';

export interface Publication {
  result: PublishResult;
  /** Compressed payload bytes (headers excluded) and their uncompressed size. */
  payloadBytes: number;
  rawBytes: number;
}

/**
 * Payload bytes this hub published for the region since it started, compressed and not: the
 * compression ratio. Bytes sent (payload and headers) are the engine's `stats().bytesSent`, so
 * that `GET /v1/regions` and `/metrics` read one number.
 */
export interface RegionLineTotals {
  payloadBytes: number;
  rawBytes: number;
}

export interface LineLedger {
  record(region: string, publication: Publication): void;
  totals(region: string): RegionLineTotals;
  /**
   * Bytes published after stream sequence `position` (the last message the agent consumed);
   * everything recorded when the agent has not said where it is.
   */
  queuedBytes(region: string, position: number | undefined): number;
  /**
   * Bytes this hub published for the region after stream sequence `position`, without moving
   * anything; undefined when the ledger does not reach back that far (the hub started later, or
   * the entries were consumed), so a catch-up decision does not mistake "unknown" for "little".
   */
  bytesAfter(region: string, position: number): number | undefined;
  /**
   * When the oldest publication after stream sequence `position` (any, when the agent has not
   * said where it is) was recorded, in ms since the epoch; undefined when there is none.
   */
  oldestAfter(region: string, position: number | undefined): number | undefined;
}

interface Entry {
  firstSeq: number;
  lastSeq: number;
  bytes: number;
  /** When it was recorded (the older one of two merged). */
  at: number;
}

/** Entries kept per region; older ones are merged, so memory stays bounded under any backlog. */
const MAX_ENTRIES = 4096;

export function createLineLedger(now: () => number = Date.now): LineLedger {
  const regions = new Map<
    string,
    { entries: Entry[]; totals: RegionLineTotals; coveredFrom: number; consumedThrough: number }
  >();
  const of = (region: string) => {
    let r = regions.get(region);
    if (!r) {
      r = {
        entries: [],
        totals: { payloadBytes: 0, rawBytes: 0 },
        coveredFrom: 0,
        consumedThrough: 0,
      };
      regions.set(region, r);
    }
    return r;
  };
  return {
    record(region, { result, payloadBytes, rawBytes }) {
      // JetStream recognised another replica's identical messages: nothing new on the stream.
      if (result.duplicate || result.bytes === 0) return;
      const r = of(region);
      r.totals.payloadBytes += payloadBytes;
      r.totals.rawBytes += rawBytes;
      r.coveredFrom ||= result.firstSeq;
      r.entries.push({ firstSeq: result.firstSeq, lastSeq: result.lastSeq, bytes: result.bytes, at: now() });
      if (r.entries.length > MAX_ENTRIES) {
        const [a, b] = r.entries.splice(0, 2) as [Entry, Entry];
        r.entries.unshift({ firstSeq: a.firstSeq, lastSeq: b.lastSeq, bytes: a.bytes + b.bytes, at: a.at });
      }
    },
    totals: (region) => ({ ...of(region).totals }),
    queuedBytes(region, position) {
      const r = regions.get(region);
      if (!r) return 0;
      if (position === undefined) return r.entries.reduce((n, e) => n + e.bytes, 0);
      // What the agent has consumed is gone for good: drop it, so queries stay cheap.
      while (r.entries.length > 0 && r.entries[0]!.lastSeq <= position) {
        r.consumedThrough = Math.max(r.consumedThrough, r.entries.shift()!.lastSeq);
      }
      return sumAfter(r.entries, position);
    },
    bytesAfter(region, position) {
      const r = regions.get(region);
      if (!r || r.coveredFrom === 0 || position < r.coveredFrom - 1 || position < r.consumedThrough) {
        return undefined;
      }
      return sumAfter(r.entries, position);
    },
    oldestAfter(region, position) {
      const entries = regions.get(region)?.entries ?? [];
      return (position === undefined ? entries[0] : entries.find((e) => e.lastSeq > position))?.at;
    },
  };
}

function sumAfter(entries: readonly Entry[], position: number): number {
  let queued = 0;
  for (const e of entries) {
    if (e.lastSeq <= position) continue;
    if (e.firstSeq > position) queued += e.bytes;
    // Part-way through one publication (a chunked snapshot): its messages are published back to
    // back, so the part left is proportional to the sequences left.
    else queued += Math.round((e.bytes * (e.lastSeq - position)) / (e.lastSeq - e.firstSeq + 1));
  }
  return queued;
}

import { describe, expect, it } from 'vitest';
import { createLineLedger } from './line.js';

const pub = (firstSeq: number, lastSeq: number, bytes: number, duplicate = false) => ({
  result: { firstSeq, lastSeq, bytes, duplicate },
  payloadBytes: bytes - 300 * (lastSeq - firstSeq + 1),
  rawBytes: bytes * 10,
});

describe('line ledger', () => {
  it('metrics - queued bytes are what was published after the position the agent reports', () => {
    const l = createLineLedger();
    l.record('eu-west', pub(10, 10, 1000));
    l.record('eu-west', pub(11, 20, 10_000)); // a chunked snapshot, ten messages
    l.record('eu-west', pub(21, 21, 500));
    expect(l.queuedBytes('eu-west', undefined)).toBe(11_500);
    expect(l.queuedBytes('eu-west', 9)).toBe(11_500);
    expect(l.queuedBytes('eu-west', 10)).toBe(10_500);
    // Part-way through the snapshot: its remaining messages, pro rata.
    expect(l.queuedBytes('eu-west', 15)).toBe(5_500);
    expect(l.queuedBytes('eu-west', 21)).toBe(0);
    expect(l.queuedBytes('us-east', 0)).toBe(0);
  });

  it("metrics - another replica's duplicates add nothing and totals give the compression ratio", () => {
    const l = createLineLedger();
    l.record('eu-west', pub(1, 1, 1000));
    l.record('eu-west', pub(1, 1, 1000, true));
    expect(l.queuedBytes('eu-west', 0)).toBe(1000);
    expect(l.totals('eu-west')).toEqual({ payloadBytes: 700, rawBytes: 10_000 });
  });

  it('metrics - memory stays bounded under any backlog, without losing bytes', () => {
    const l = createLineLedger();
    for (let i = 1; i <= 10_000; i++) l.record('eu-west', pub(i, i, 400));
    expect(l.queuedBytes('eu-west', 0)).toBe(4_000_000);
    expect(l.queuedBytes('eu-west', 9_999)).toBe(400);
  });

  it('metrics - bytes after a position are known only as far back as the ledger reaches', () => {
    const l = createLineLedger();
    expect(l.bytesAfter('eu-west', 0), 'nothing published by this hub').toBeUndefined();
    l.record('eu-west', pub(10, 10, 1000));
    l.record('eu-west', pub(11, 20, 10_000));
    expect(l.bytesAfter('eu-west', 9)).toBe(11_000);
    expect(l.bytesAfter('eu-west', 15)).toBe(5_000);
    expect(l.bytesAfter('eu-west', 8), 'published before this hub started').toBeUndefined();
    l.queuedBytes('eu-west', 10); // the agent reported consuming 10: that entry is gone
    expect(l.bytesAfter('eu-west', 10)).toBe(10_000);
    expect(l.bytesAfter('eu-west', 9), 'consumed and forgotten').toBeUndefined();
    expect(l.queuedBytes('eu-west', 9), 'the line figures are unchanged').toBe(10_000);
  });

  it('metrics - the oldest publication the agent has not consumed dates the drift', () => {
    let t = 1_000;
    const l = createLineLedger(() => t);
    expect(l.oldestAfter('eu-west', undefined)).toBeUndefined();
    l.record('eu-west', pub(10, 10, 1000));
    t = 2_000;
    l.record('eu-west', pub(11, 20, 10_000));
    t = 3_000;
    l.record('eu-west', pub(21, 21, 500, true)); // a duplicate put nothing on the stream
    expect(l.oldestAfter('eu-west', undefined), 'no position reported: the oldest of all').toBe(1_000);
    expect(l.oldestAfter('eu-west', 9)).toBe(1_000);
    expect(l.oldestAfter('eu-west', 10)).toBe(2_000);
    expect(l.oldestAfter('eu-west', 15), 'part-way through a chunked snapshot').toBe(2_000);
    expect(l.oldestAfter('eu-west', 20), 'everything consumed').toBeUndefined();
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createUplink, type Publisher, uplinkCost } from './lanes.js';

const log = { info() {}, warn() {}, error() {}, debug() {}, child: () => log } as never;

/** Records what the uplink publishes, with the (fake) time it did. */
function recorder() {
  const sent: { t: number; subject: string; body: string; bytes: number }[] = [];
  const pub: Publisher = {
    publish: (subject, body) => sent.push({ t: Date.now(), subject, body, bytes: uplinkCost(subject, body) }),
    isClosed: () => false,
  };
  return { sent, pub };
}

describe('the budgeted uplink', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('uplink - when the bucket is short, lanes go by priority, each with its latest state', () => {
    const { sent, pub } = recorder();
    const up = createUplink({ nc: () => pub, budget: () => 1000, log, now: () => Date.now() });
    let detailState = 0;
    const big = 'x'.repeat(4000);
    const detail = up.lane('detail', 2, () => ({ subject: 'd', body: `${big}${detailState}` }));
    const status = up.lane('status', 1, () => ({ subject: 's', body: 'status' }));
    const counts = up.lane('counts', 0, () => ({ subject: 'c', body: 'counts' }));
    detail.mark(); // the whole 4 KiB bucket, and a little debt
    detail.mark(); // waits ~4 s for the bucket
    detailState = 7; // changes while it waits
    status.mark(); // waits too, but not behind the detail
    counts.mark();
    expect(sent.map((s) => s.subject)).toEqual(['d']);
    expect(up.status().waiting).toEqual(['counts', 'status', 'detail']);
    vi.advanceTimersByTime(300);
    expect(sent.map((s) => s.subject)).toEqual(['d', 'c', 's']);
    vi.advanceTimersByTime(5000);
    expect(sent.map((s) => s.subject)).toEqual(['d', 'c', 's', 'd']);
    expect(sent[3]!.body.endsWith('7')).toBe(true); // built when it went: the latest state
    expect(up.status().waiting).toEqual([]);
    expect(up.status().messagesSent).toEqual({ detail: 2, status: 1, counts: 1 });
  });

  it('uplink - under a flood of marks the line never carries more than budget × t + burst', () => {
    const { sent, pub } = recorder();
    const BUDGET = 2048;
    const up = createUplink({ nc: () => pub, budget: () => BUDGET, log, now: () => Date.now() });
    const lanes = [0, 1, 2].map((p) =>
      up.lane(`l${p}`, p, () => ({ subject: `l${p}`, body: 'y'.repeat(300 + p * 700) })),
    );
    for (let t = 0; t < 30_000; t += 50) {
      for (const l of lanes) l.mark();
      vi.advanceTimersByTime(50);
    }
    // Every window [a, b] of the record holds at most the budget for its length plus one bucket.
    for (let i = 0; i < sent.length; i++) {
      let bytes = 0;
      for (let j = i; j < sent.length; j++) {
        bytes += sent[j]!.bytes;
        expect(bytes).toBeLessThanOrEqual(((sent[j]!.t - sent[i]!.t) / 1000) * BUDGET + 4096 + 1);
      }
    }
    // The highest priority is never starved; the lowest still gets some of the line.
    const count = (s: string) => sent.filter((x) => x.subject === s).length;
    expect(count('l0')).toBeGreaterThan(count('l2'));
    expect(count('l2')).toBeGreaterThan(0);
  });

  it('uplink - nothing is sent while NATS is away; marked lanes go once it is back', () => {
    const { sent, pub } = recorder();
    let connected = false;
    const up = createUplink({ nc: () => (connected ? pub : undefined), budget: () => undefined, log });
    const lane = up.lane('status', 1, () => ({ subject: 's', body: 'b' }));
    lane.mark();
    expect(sent).toHaveLength(0);
    connected = true;
    lane.mark();
    expect(sent).toHaveLength(1);
  });
});

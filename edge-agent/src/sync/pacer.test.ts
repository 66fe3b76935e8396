import { describe, expect, it } from 'vitest';
import { createRateMeter, createTokenBucket } from './pacer.js';
import { fakeClock } from './testing.js';

describe('token bucket', () => {
  it('pacer - a new bucket is full and refills at the budget up to the burst', () => {
    const clock = fakeClock();
    const b = createTokenBucket({ bytesPerSecond: 1000, burstBytes: 4000 }, clock);
    expect(b.available()).toBe(4000);
    b.take(3500);
    expect(b.available()).toBe(500);
    clock.advance(1000);
    expect(b.available()).toBe(1500);
    clock.advance(60_000);
    expect(b.available()).toBe(4000);
  });

  it('pacer - taking more than there is leaves a debt that time pays off', async () => {
    const clock = fakeClock();
    const b = createTokenBucket({ bytesPerSecond: 1000, burstBytes: 1000 }, clock);
    b.take(3000);
    expect(b.available()).toBe(-2000);
    const waited = await b.waitFor(500);
    expect(waited).toBe(2500);
    expect(b.available()).toBeGreaterThanOrEqual(500);
  });

  it('pacer - a wait for more than the burst waits for a full bucket only', async () => {
    const clock = fakeClock();
    const b = createTokenBucket({ bytesPerSecond: 100, burstBytes: 1000 }, clock);
    b.take(1000);
    expect(await b.waitFor(50_000)).toBe(10_000);
  });

  it('pacer - bytes taken over any span never exceed burst plus budget times the span', async () => {
    const clock = fakeClock();
    const rate = 32 * 1024;
    const burst = 96 * 1024;
    const b = createTokenBucket({ bytesPerSecond: rate, burstBytes: burst }, clock);
    const log: { t: number; bytes: number }[] = [];
    // A consumer that takes whatever the bucket allows, in uneven message sizes.
    for (let i = 0; i < 400; i++) {
      const size = [700, 65_000, 12_000, 30_000][i % 4]!;
      await b.waitFor(size);
      b.take(size);
      log.push({ t: clock.now(), bytes: size });
    }
    for (const start of log) {
      const inWindow = log
        .filter((e) => e.t >= start.t && e.t < start.t + 5000)
        .reduce((n, e) => n + e.bytes, 0);
      expect(inWindow).toBeLessThanOrEqual(burst + rate * 5);
    }
    const total = log.reduce((n, e) => n + e.bytes, 0);
    // And the long-run rate is the budget, not less.
    expect(total / (clock.now() / 1000)).toBeGreaterThan(rate * 0.95);
  });

  it('pacer - an unmetered bucket never waits and a new budget wakes a waiter', async () => {
    const clock = fakeClock();
    const b = createTokenBucket(undefined, clock);
    expect(b.available()).toBe(Number.POSITIVE_INFINITY);
    expect(await b.waitFor(1e9)).toBe(0);
    b.setBudget({ bytesPerSecond: 10, burstBytes: 100 });
    expect(b.available()).toBe(100);
    b.take(100);
    b.setBudget({ bytesPerSecond: 10, burstBytes: 50 });
    expect(b.available()).toBe(0);
    b.setBudget(undefined);
    expect(await b.waitFor(1e9)).toBe(0);
  });

  it('pacer - an aborted wait returns at once', async () => {
    const b = createTokenBucket({ bytesPerSecond: 1, burstBytes: 10 });
    b.take(10);
    const abort = new AbortController();
    const waiting = b.waitFor(10, abort.signal);
    abort.abort();
    expect(await waiting).toBeLessThan(1000);
  });
});

describe('rate meter', () => {
  it('pacer - reports bytes per second over the last window and forgets older ones', () => {
    const clock = fakeClock();
    const m = createRateMeter(5000, 10, clock);
    m.add(5000);
    expect(m.rate()).toBe(1000);
    clock.advance(2000);
    m.add(5000);
    expect(m.rate()).toBe(2000);
    clock.advance(4000);
    expect(m.rate()).toBe(1000);
    clock.advance(10_000);
    expect(m.rate()).toBe(0);
    expect(m.total()).toBe(10_000);
  });
});

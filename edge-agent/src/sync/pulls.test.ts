import { type EnvelopeMeta, emptyView, silentLogger } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { pullBytesFor, type RegionLink, TRANSPORT_OVERHEAD } from './line.js';
import { createTokenBucket, type TokenBucket } from './pacer.js';
import {
  BUSY_HEARTBEAT_MS,
  BUSY_PULL_EXPIRES_MS,
  createPullPacer,
  MIN_PULL_BYTES,
  PULL_SLICE_SECONDS,
} from './pulls.js';
import { fakeClock } from './testing.js';
import { zeroCounters } from './types.js';

/** A pacer on a fake clock whose link the test sets, and whose connection receives what the test says. */
function setup(link: RegionLink | undefined) {
  const clock = fakeClock();
  const bucket = createTokenBucket(undefined, clock);
  const takes: { available: number; bytes: number }[] = [];
  const watched: TokenBucket = {
    ...bucket,
    take(bytes) {
      takes.push({ available: bucket.available(), bytes });
      bucket.take(bytes);
    },
  };
  let received = 0;
  const state = { link, waits: 0 };
  const pacer = createPullPacer({
    counter: {
      poll() {
        const bytes = received;
        received = 0;
        return bytes;
      },
    },
    view: () => emptyView('eu-west'),
    hint: () => state.link,
    batch: 16,
    pullExpiresMs: 120_000,
    stats: zeroCounters(),
    log: silentLogger(),
    signal: new AbortController().signal,
    onWait: () => {
      state.waits++;
    },
    clock,
    bucket: watched,
  });
  pacer.refreshBudget();
  return {
    pacer,
    clock,
    bucket,
    takes,
    state,
    receive(bytes: number) {
      received += bytes;
    },
  };
}

const lastChunk: EnvelopeMeta = {
  type: 'snapshot',
  region: 'eu-west',
  fromVersion: 0,
  toVersion: 3,
  toHash: 'a'.repeat(64),
  codec: 'identity',
  chunk: { index: 4, count: 4 },
  rawSize: 1000,
};

describe('paced pulls', () => {
  it('pulls - a budget shrink ends the open pull, once', async () => {
    const { pacer, state } = setup({ bytesPerSecond: 100_000, burstBytes: 200_000 });
    // The first budget is no shrink: nothing was sized under another one.
    expect(pacer.budgetShrank()).toBe(false);
    await pacer.next();
    state.link = { bytesPerSecond: 200_000, burstBytes: 400_000 };
    pacer.refreshBudget();
    expect(pacer.budgetShrank()).toBe(false);
    state.link = { bytesPerSecond: 50_000, burstBytes: 400_000 };
    pacer.refreshBudget();
    expect(pacer.budgetShrank()).toBe(true);
    expect(pacer.budgetShrank()).toBe(false);
    // A smaller burst alone is a shrink too, and so is a line that is no longer metered.
    state.link = { bytesPerSecond: 50_000, burstBytes: 100_000 };
    pacer.refreshBudget();
    expect(pacer.budgetShrank()).toBe(true);
    state.link = undefined;
    pacer.refreshBudget();
    expect(pacer.budgetShrank()).toBe(true);
    expect((await pacer.next()).options).toMatchObject({ max_messages: 16 });
  });

  it('pulls - a pull never asks for more bytes than the bucket holds', async () => {
    const burst = 96 * 1024;
    const { pacer, clock, takes, receive, state } = setup({ bytesPerSecond: 32 * 1024, burstBytes: burst });
    const sizes = [700, 65_000, 12_000, 30_000, 2_000];
    for (let i = 0; i < 200; i++) {
      const asked = await pacer.next();
      const take = takes.at(-1)!;
      expect(asked.options).toMatchObject({ max_bytes: asked.bytes });
      // The server counts fewer bytes than the line carries: what it may send fits the tokens paid.
      expect(asked.bytes * (1 + TRANSPORT_OVERHEAD)).toBeLessThanOrEqual(take.available);
      expect(take.bytes).toBeLessThanOrEqual(take.available);
      expect(take.bytes).toBeLessThanOrEqual(burst);
      const size = sizes[i % sizes.length]!;
      clock.advance(50); // the pull crosses the line
      if (size > asked.bytes) {
        pacer.settle();
        pacer.nothingFitted(asked.bytes);
      } else {
        receive(size);
        pacer.settle();
        pacer.delivered(undefined, size + 256);
      }
    }
    expect(state.waits).toBeGreaterThan(0);
  });

  it('pulls - while messages flow a pull is short and closely watched; after an empty one it is long again', async () => {
    const { pacer } = setup(undefined);
    const short = { max_messages: 16, expires: BUSY_PULL_EXPIRES_MS, idle_heartbeat: BUSY_HEARTBEAT_MS };
    // Nothing is known of a line at the start: its first pull is watched closely.
    expect((await pacer.next()).options).toEqual(short);
    pacer.quiet();
    expect((await pacer.next()).options).toEqual({ max_messages: 16, expires: 120_000 });
    pacer.delivered(undefined, 2_000);
    expect((await pacer.next()).options).toEqual({
      max_messages: 16,
      expires: BUSY_PULL_EXPIRES_MS,
      idle_heartbeat: BUSY_HEARTBEAT_MS,
    });
    // Nothing fitted is no quiet line: the next message is only bigger than the pull.
    pacer.nothingFitted(1_000);
    expect((await pacer.next()).options).toMatchObject({ expires: BUSY_PULL_EXPIRES_MS });
    pacer.quiet();
    expect((await pacer.next()).options).toEqual({ max_messages: 16, expires: 120_000 });
    // A consumer created or moved: watched closely again.
    pacer.restarted();
    expect((await pacer.next()).options).toEqual(short);
  });

  it('pulls - after the last chunk of a payload the next pull may be small again', async () => {
    const { pacer, bucket, takes } = setup({ bytesPerSecond: 10_000, burstBytes: 100_000 });
    pacer.delivered(undefined, 60_000);
    bucket.take(bucket.available());
    await pacer.next();
    // It waited for room for a message like the last one.
    expect(takes.at(-1)!.available).toBeGreaterThanOrEqual(60_000);
    pacer.settle();
    pacer.delivered(lastChunk, 60_000);
    bucket.take(bucket.available());
    await pacer.next();
    expect(takes.at(-1)!.available).toBeLessThan(60_000);
    expect(pullBytesFor(takes.at(-1)!.available)).toBeGreaterThanOrEqual(MIN_PULL_BYTES - 200);
  });

  it('pulls - a full bucket goes out in slices, unless the next message needs more room', async () => {
    const budget = { bytesPerSecond: 32 * 1024, burstBytes: 256 * 1024 };
    const { pacer, takes, clock } = setup(budget);
    clock.advance(60_000); // a full bucket
    const first = await pacer.next();
    expect(takes.at(-1)!.available).toBeGreaterThan(200 * 1024);
    expect(takes.at(-1)!.bytes).toBe(budget.bytesPerSecond * PULL_SLICE_SECONDS);
    expect(first.bytes).toBeLessThan(budget.bytesPerSecond * PULL_SLICE_SECONDS);
    // A 40 KiB chunk does not fit a slice: the next pull makes room for it.
    pacer.settle();
    pacer.nothingFitted(first.bytes);
    const second = await pacer.next();
    expect(second.bytes).toBeGreaterThan(first.bytes);
    pacer.settle();
    pacer.delivered(undefined, 40 * 1024);
    await pacer.next();
    expect(takes.at(-1)!.bytes).toBeGreaterThanOrEqual(40 * 1024);
  });
});

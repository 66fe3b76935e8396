import { API_VERSION, type RegionView } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import {
  createLineCounter,
  DEFAULT_LARGEST_MESSAGE,
  effectiveBudget,
  lineBytes,
  pullBytesFor,
  regionLink,
  tokensToPull,
} from './line.js';

const view = (link?: Record<string, unknown>): RegionView => ({
  region: 'eu-west',
  version: 1,
  hash: 'h',
  resources: {
    'Region/_/eu-west': {
      apiVersion: API_VERSION,
      kind: 'Region',
      metadata: { name: 'eu-west' },
      spec: link ? { link } : {},
    },
  },
});

describe('line budget', () => {
  it('line - reads the budget and burst of its own Region from the view, units resolved', () => {
    expect(regionLink(view({ budget: '256KiB/s', burst: '1MiB' }))).toEqual({
      bytesPerSecond: 262_144,
      burstBytes: 1_048_576,
    });
    expect(regionLink(view({ budget: '2Mbit/s' }))).toEqual({ bytesPerSecond: 250_000 });
    expect(regionLink(view())).toBeUndefined();
    expect(regionLink({ ...view(), resources: {} })).toBeUndefined();
  });

  it('line - the flag lowers the Region budget but never raises it', () => {
    const link = { bytesPerSecond: 100_000, burstBytes: 200_000 };
    expect(effectiveBudget({ link, flagBytesPerSecond: 50_000, largestMessage: 0 })).toEqual({
      bytesPerSecond: 50_000,
      burstBytes: 200_000,
      source: 'flag',
    });
    expect(effectiveBudget({ link, flagBytesPerSecond: 500_000, largestMessage: 0 })).toEqual({
      bytesPerSecond: 100_000,
      burstBytes: 200_000,
      source: 'region',
    });
    expect(
      effectiveBudget({ link: undefined, flagBytesPerSecond: undefined, largestMessage: 0 }),
    ).toBeUndefined();
    expect(effectiveBudget({ link: undefined, flagBytesPerSecond: 10_000, largestMessage: 0 })?.source).toBe(
      'flag',
    );
  });

  it('line - the burst defaults to a second of budget and always fits the largest message', () => {
    const slow = effectiveBudget({
      link: { bytesPerSecond: 1000 },
      flagBytesPerSecond: undefined,
      largestMessage: 0,
    })!;
    expect(slow.burstBytes).toBe(tokensToPull(DEFAULT_LARGEST_MESSAGE));
    const fast = effectiveBudget({
      link: { bytesPerSecond: 1e6 },
      flagBytesPerSecond: undefined,
      largestMessage: 0,
    })!;
    expect(fast.burstBytes).toBe(1e6);
    const big = effectiveBudget({
      link: { bytesPerSecond: 1000, burstBytes: 4096 },
      flagBytesPerSecond: undefined,
      largestMessage: 300_000,
    })!;
    expect(big.burstBytes).toBe(300_000);
  });

  it('line - a default chunk fits a pull made with a default bucket', () => {
    const burst = tokensToPull(DEFAULT_LARGEST_MESSAGE);
    const chunkAsServerCounts = 64 * 1024 + 340 + 'fedmesh.sync.eu-west'.length + 90;
    expect(pullBytesFor(burst)).toBeGreaterThanOrEqual(chunkAsServerCounts);
    expect(tokensToPull(chunkAsServerCounts)).toBeGreaterThan(lineBytes(chunkAsServerCounts, 1, 40));
    // Room for a message like one seen before fits it even when its ack subject grew a little.
    expect(pullBytesFor(tokensToPull(chunkAsServerCounts))).toBeGreaterThanOrEqual(chunkAsServerCounts + 64);
  });

  it('line - counts what the connection received plus protocol and TCP/IP overhead', () => {
    let stats = { inBytes: 0, inMsgs: 0 };
    const c = createLineCounter(() => stats);
    expect(c.poll()).toBe(0);
    stats = { inBytes: 1448 * 10 - 112 * 2, inMsgs: 2 };
    expect(c.poll()).toBeCloseTo(1448 * 10 + 52 * 10, -1);
    expect(c.poll()).toBe(0);
  });
});

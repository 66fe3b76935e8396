import { describe, expect, it } from 'vitest';
import { createOutOfSyncTracker } from './out-of-sync.js';

describe('out-of-sync tracker', () => {
  it('regions - a region in sync has no out-of-sync time', () => {
    const t = createOutOfSyncTracker();
    expect(t.observe('eu', { inSync: true, now: 1_000, publishedAt: 900 })).toBeUndefined();
  });

  it('regions - a publication after the region was last seen in sync starts the clock', () => {
    const t = createOutOfSyncTracker();
    t.observe('eu', { inSync: true, now: 1_000 });
    // The agent stopped; a change was published at 5 s and nobody looked until 40 s.
    expect(t.observe('eu', { inSync: false, now: 40_000, publishedAt: 5_000 })).toBe(5_000);
  });

  it('regions - the clock keeps running through later publications until the region is in sync again', () => {
    const t = createOutOfSyncTracker();
    t.observe('eu', { inSync: true, now: 1_000 });
    expect(t.observe('eu', { inSync: false, now: 2_000, publishedAt: 1_500 })).toBe(1_500);
    expect(t.observe('eu', { inSync: false, now: 9_000, publishedAt: 8_000 })).toBe(1_500);
    expect(t.observe('eu', { inSync: true, now: 10_000, publishedAt: 8_000 })).toBeUndefined();
    expect(t.observe('eu', { inSync: false, now: 20_000, publishedAt: 8_000 })).toBe(20_000);
  });

  it('regions - a divergence with no publication since the last in-sync sighting starts when first seen', () => {
    const t = createOutOfSyncTracker();
    t.observe('eu', { inSync: true, now: 5_000 });
    expect(t.observe('eu', { inSync: false, now: 7_000, publishedAt: 3_000 })).toBe(7_000);
  });

  it('regions - a region never seen in sync counts from its last publication, or from the first sighting', () => {
    const t = createOutOfSyncTracker();
    expect(t.observe('eu', { inSync: false, now: 7_000, publishedAt: 3_000 })).toBe(3_000);
    expect(t.observe('us', { inSync: false, now: 7_000 })).toBe(7_000);
    // A clock that moved backwards never puts the start in the future.
    expect(t.observe('ap', { inSync: false, now: 7_000, publishedAt: 9_000 })).toBe(7_000);
  });

  it('regions - deleted regions are forgotten', () => {
    const t = createOutOfSyncTracker();
    t.observe('eu', { inSync: false, now: 1_000 });
    t.observe('us', { inSync: false, now: 1_000 });
    t.retain(['us']);
    expect(t.observe('eu', { inSync: false, now: 5_000 })).toBe(5_000);
    expect(t.observe('us', { inSync: false, now: 5_000 })).toBe(1_000);
  });
});

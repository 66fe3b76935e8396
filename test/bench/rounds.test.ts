import type { RegionChanges } from '@fedmesh/hub';
import type { ViewResource } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { mergeRegionChanges, publicationRounds } from './rounds.js';

const svc = (port: number): ViewResource =>
  ({
    kind: 'Service',
    metadata: { name: 'a', namespace: 'n' },
    spec: { ports: [{ name: 'p', port }] },
  }) as never;

describe('bench publication rounds', () => {
  it('rounds - rate 0 publishes every change alone', () => {
    expect(publicationRounds(5, 0, 1)).toEqual([[0], [1], [2], [3], [4]]);
  });

  it('rounds - every change lands in exactly one round, in order, and a round spans at most the max wait', () => {
    for (const rate of [1, 10, 50, 500]) {
      const rounds = publicationRounds(2_000, rate, 7);
      expect(rounds.flat()).toEqual(Array.from({ length: 2_000 }, (_, i) => i));
      // At rate r, a round that waited at most 1 s holds about r changes; far more means the max wait was ignored.
      const largest = Math.max(...rounds.map((r) => r.length));
      expect(largest).toBeLessThan(Math.max(3, rate * 2));
      if (rate >= 50) expect(rounds.length).toBeLessThan(2_000 / 5); // merging really happens
    }
  });

  it('rounds - changes far apart (1/s against a 100 ms debounce) are mostly alone', () => {
    const rounds = publicationRounds(1_000, 1, 3);
    expect(rounds.length).toBeGreaterThan(850); // P(gap < 100 ms) = 1 - e^-0.1 ≈ 9.5 %
  });

  it('merge - keeps the first before and the last after, and drops a key that ends where it started', () => {
    const a: RegionChanges = new Map([
      ['Service/n/a', { before: svc(1), after: svc(2) }],
      ['Service/n/b', { before: undefined, after: svc(1) }],
    ]);
    const b: RegionChanges = new Map([
      ['Service/n/a', { before: svc(2), after: svc(3) }],
      ['Service/n/b', { before: svc(1), after: undefined }],
    ]);
    const c: RegionChanges = new Map([['Service/n/a', { before: svc(3), after: svc(1) }]]);
    expect([...mergeRegionChanges([a, b]).entries()]).toEqual([
      ['Service/n/a', { before: svc(1), after: svc(3) }],
    ]);
    expect(mergeRegionChanges([a, b, c]).size).toBe(0);
  });
});

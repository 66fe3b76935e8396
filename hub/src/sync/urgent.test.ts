import { Codec, decodeUrgent, silentLogger, type ViewResource } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { createUrgentLane, isUrgentChange, urgentEntries } from './urgent.js';

const eps = (...e: [string, boolean?][]): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'ServiceEndpoints',
  metadata: { name: 'payments-eu-west', namespace: 'shop' },
  spec: {
    endpoints: e.map(([address, healthy]) => ({
      address,
      port: 8443,
      ...(healthy === undefined ? {} : { healthy }),
    })),
  },
});
const remote = (healthy: number): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'RemoteEndpoints',
  metadata: { name: 'payments.us-east', namespace: 'shop' },
  spec: { healthy },
});
const authz = (action: string): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'p', namespace: 'shop' },
  spec: { action },
});

describe('urgent changes', () => {
  it('urgent - removals, unhealthy flips, a region gone and deny rules are urgent; additions and allows are not', () => {
    expect(isUrgentChange(eps(['a'], ['b']), eps(['a']))).toBe(true);
    expect(isUrgentChange(eps(['a'], ['b']), eps(['a'], ['b', false]))).toBe(true);
    expect(isUrgentChange(eps(['a']), undefined)).toBe(true);
    expect(isUrgentChange(eps(['a']), eps(['a'], ['b']))).toBe(false);
    expect(isUrgentChange(eps(['a'], ['b', false]), eps(['a'], ['b']))).toBe(false);
    expect(isUrgentChange(undefined, eps(['a']))).toBe(false);
    expect(isUrgentChange(remote(3), remote(0))).toBe(true);
    expect(isUrgentChange(remote(3), remote(2))).toBe(false);
    expect(isUrgentChange(undefined, authz('deny'))).toBe(true);
    expect(isUrgentChange(authz('deny'), authz('allow'))).toBe(false);
  });

  it('urgent - a region gets the urgent entries of its changes, marked ones included, as they are after', () => {
    const changes = new Map([
      ['ServiceEndpoints/shop/payments-eu-west', { before: eps(['a'], ['b']), after: eps(['a']) }],
      ['Service/shop/payments', { before: undefined, after: authz('allow') }],
      ['Service/shop/cart', { before: undefined, after: authz('allow') }],
    ]);
    const entries = urgentEntries(changes, new Set(['Service/shop/cart']));
    expect(Object.keys(entries!).sort()).toEqual([
      'Service/shop/cart',
      'ServiceEndpoints/shop/payments-eu-west',
    ]);
    expect(
      urgentEntries(new Map([['x', { before: undefined, after: eps(['a']) }]]), new Set()),
    ).toBeUndefined();
  });

  it('urgent - the lane sends only for a line that is behind, and within its reserve of the budget', async () => {
    const sent: Uint8Array[] = [];
    let now = 0;
    let behind = false;
    const lane = createUrgentLane({
      publish: (_r, body) => sent.push(body),
      budget: () => 10_000, // a reserve of 1,000 B/s, a bucket of 4 KiB
      behind: () => behind,
      log: silentLogger(),
      now: () => now,
    });
    const entries = { 'ServiceEndpoints/shop/payments-eu-west': eps(['10.0.0.1']) };
    expect(await lane.offer('eu-west', 4, 5, entries, Codec.Brotli)).toBe('not_behind');
    behind = true;
    expect(await lane.offer('eu-west', 4, 5, entries, Codec.Brotli)).toBe('sent');
    const msg = await decodeUrgent('eu-west', sent[0]!);
    expect(msg).toEqual({ fromVersion: 4, toVersion: 5, entries });
    let outcomes = [];
    for (let i = 0; i < 40; i++) outcomes.push(await lane.offer('eu-west', 4, 6 + i, entries, Codec.Brotli));
    expect(outcomes).toContain('over_reserve');
    // In a second the reserve refills by 1,000 B: a few more fit, never more than it pays for.
    const before = sent.length;
    now += 1000;
    outcomes = [];
    for (let i = 0; i < 40; i++) outcomes.push(await lane.offer('eu-west', 4, 50 + i, entries, Codec.Brotli));
    const bytes = sent.slice(before).reduce((n, b) => n + b.byteLength + 47, 0);
    expect(bytes).toBeLessThanOrEqual(1000);
    expect(sent.length).toBeGreaterThan(before);
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RegionView, type ViewResource, viewHash } from '@fedmesh/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUrgentOverlay, URGENT_TTL_MS } from './urgent.js';

const KEY = 'ServiceEndpoints/shop/payments-eu-west';
const OTHER = 'Service/shop/payments';
const eps = (...addresses: string[]): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'ServiceEndpoints',
  metadata: { name: 'payments-eu-west', namespace: 'shop' },
  spec: {
    service: 'payments',
    region: 'eu-west',
    endpoints: addresses.map((address) => ({ address, port: 8443 })),
  },
});
const svc: ViewResource = {
  apiVersion: 'fedmesh.io/v1',
  kind: 'Service',
  metadata: { name: 'payments', namespace: 'shop' },
  spec: {},
};
const view = (version: number, resources: Record<string, ViewResource>): RegionView => ({
  region: 'eu-west',
  version,
  hash: viewHash(resources),
  resources,
});

describe('urgent overlay', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-urgent-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('urgent - an entry is served over the held view until the chain reaches its version, then confirmed', async () => {
    const overlay = createUrgentOverlay(dir);
    const held = view(10, { [KEY]: eps('10.0.0.1', '10.0.0.2'), [OTHER]: svc });
    expect(
      overlay.accept({ fromVersion: 10, toVersion: 14, entries: { [KEY]: eps('10.0.0.1') } }, held),
    ).toBe(true);
    const served = overlay.compose(held);
    expect(served.resources[KEY]).toEqual(eps('10.0.0.1'));
    expect(served.resources[OTHER]).toBe(svc);
    // A hash of what is served, so the xDS server sees the change; the same overlay, the same hash.
    expect(served.hash).not.toBe(held.hash);
    expect(overlay.compose(view(10, { ...held.resources })).hash).toBe(served.hash);
    overlay.accept({ fromVersion: 10, toVersion: 14, entries: { [KEY]: eps('10.0.0.3') } }, held);
    expect(overlay.compose(held).hash).not.toBe(served.hash);
    overlay.accept({ fromVersion: 10, toVersion: 14, entries: { [KEY]: eps('10.0.0.1') } }, held);
    // A chain step before its version changes nothing of the overlay.
    await overlay.settle(view(12, { ...held.resources }));
    expect(overlay.size()).toBe(1);
    await overlay.settle(view(14, { [KEY]: eps('10.0.0.1'), [OTHER]: svc }));
    expect(overlay.size()).toBe(0);
    expect(overlay.counters()).toMatchObject({ received: 3, confirmed: 1, dropped: 0 });
  });

  it('urgent - the chain wins: an entry it does not confirm is dropped; a removal is served as absent', async () => {
    const overlay = createUrgentOverlay(dir);
    const held = view(10, { [KEY]: eps('10.0.0.1'), [OTHER]: svc });
    overlay.accept({ fromVersion: 10, toVersion: 11, entries: { [KEY]: null } }, held);
    expect(overlay.compose(held).resources[KEY]).toBeUndefined();
    await overlay.settle(view(11, { [KEY]: eps('10.0.0.9'), [OTHER]: svc }));
    expect(overlay.compose(view(11, { [KEY]: eps('10.0.0.9') })).resources[KEY]).toEqual(eps('10.0.0.9'));
    expect(overlay.counters()).toMatchObject({ confirmed: 0, dropped: 1 });
  });

  it('urgent - what the chain already holds is ignored; what it never confirms expires', async () => {
    let now = 1_000;
    const overlay = createUrgentOverlay(dir, () => now);
    const held = view(10, { [KEY]: eps('10.0.0.1') });
    expect(overlay.accept({ fromVersion: 9, toVersion: 10, entries: { [KEY]: null } }, held)).toBe(false);
    overlay.accept({ fromVersion: 10, toVersion: 1_000_000_000, entries: { [KEY]: null } }, held);
    now += URGENT_TTL_MS + 1;
    await overlay.settle(held);
    expect(overlay.size()).toBe(0);
    expect(overlay.counters().expired).toBe(1);
  });

  it('urgent - the overlay survives a restart of the agent', async () => {
    const held = view(10, { [KEY]: eps('10.0.0.1', '10.0.0.2') });
    const first = createUrgentOverlay(dir);
    // Many messages while a write is in flight: the last state is what the disk ends with.
    for (let i = 3; i <= 9; i++)
      first.accept({ fromVersion: 10, toVersion: 12, entries: { [KEY]: eps(`10.0.0.${i}`) } }, held);
    first.accept({ fromVersion: 10, toVersion: 12, entries: { [KEY]: eps('10.0.0.2') } }, held);
    await first.written();
    const again = createUrgentOverlay(dir);
    await again.load();
    expect(again.compose(held).resources[KEY]).toEqual(eps('10.0.0.2'));
  });
});

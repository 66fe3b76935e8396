import { type Resource, type ResourceRef, refKey, silentLogger } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { createMemoryAuditLog } from '../audit/memory.js';
import { createHubMetrics } from '../metrics/index.js';
import type { StoredResource } from '../store/index.js';
import { createMemoryConfigStore } from '../store/memory.js';
import { withCountedReads } from '../store/test-fixtures.js';
import { createWriter } from './writes.js';

const payments: Resource = {
  kind: 'Service',
  metadata: { name: 'payments', namespace: 'shop' },
  spec: { ports: [{ name: 'grpc', port: 8443, protocol: 'grpc' }] },
} as Resource;
const ref: ResourceRef = { kind: 'Service', namespace: 'shop', name: 'payments' };
const admin = { name: 'test', role: 'admin' as const };

/** A writer over a memory store, with a stand-in for the config watch's copy that the test fills by hand. */
function setUp() {
  const store = createMemoryConfigStore();
  const reads: string[] = [];
  const counting = withCountedReads(store, reads);
  const held = new Map<string, StoredResource>();
  const writer = createWriter({
    store: counting,
    audit: createMemoryAuditLog(),
    metrics: createHubMetrics(),
    logger: silentLogger(),
    cached: (r) => held.get(refKey(r)),
  });
  return { store, reads, held, writer };
}

describe('writer referents', () => {
  it('referent - one the watch holds is not read from the store', async () => {
    const { reads, held, writer } = setUp();
    held.set(refKey(ref), { resource: payments, revision: 1 });
    expect((await writer.referent(ref))?.resource).toBe(payments);
    expect(reads).toEqual([]);
  });

  it('referent - one the watch does not hold yet is read from the store (created a moment ago)', async () => {
    const { reads, store, writer } = setUp();
    await store.create(payments);
    expect((await writer.referent(ref))?.resource).toMatchObject({ metadata: { name: 'payments' } });
    expect(reads).toEqual([refKey(ref)]);
  });

  it('referent - one this writer just deleted is read from the store, though the watch still holds it', async () => {
    const { held, store, writer } = setUp();
    const { revision } = await writer.write(payments, {}, admin);
    held.set(refKey(ref), { resource: payments, revision }); // the watch caught up with the create, not yet with the delete
    await writer.delete(ref, undefined, admin);
    expect(await store.get(ref)).toBeUndefined();
    expect(await writer.referent(ref)).toBeUndefined();
  });
});

const withPort = (port: number): Resource =>
  ({ ...payments, spec: { ports: [{ name: 'grpc', port, protocol: 'grpc' }] } }) as Resource;

describe('writer updates from the watch copy', () => {
  it('write - an update the watch holds is pinned to its copy, without a store read', async () => {
    const { reads, held, store, writer } = setUp();
    const revision = await store.create(payments);
    held.set(refKey(ref), { resource: payments, revision });
    const out = await writer.write(withPort(9443), {}, admin);
    expect(out.outcome).toBe('updated');
    expect(reads).toEqual([]);
    expect((await store.get(ref))?.resource.spec).toEqual(withPort(9443).spec);
  });

  it('write - a copy behind the store is refused by it, and the write goes on from a store read', async () => {
    const { reads, held, store, writer } = setUp();
    const first = await store.create(payments);
    held.set(refKey(ref), { resource: payments, revision: first });
    await store.update(withPort(7000), first); // another replica's write, not yet on this watch
    const out = await writer.write(withPort(9443), {}, admin);
    expect(out.outcome).toBe('updated');
    expect(reads.length).toBeGreaterThan(0);
    expect((await store.get(ref))?.resource.spec).toEqual(withPort(9443).spec);
  });

  it('write - what the stale copy already holds is written when the store holds something else', async () => {
    // The copy says "unchanged"; only the store may say so, and it holds port 7000.
    const { held, store, writer } = setUp();
    const first = await store.create(payments);
    held.set(refKey(ref), { resource: payments, revision: first });
    await store.update(withPort(7000), first);
    const out = await writer.write(payments, {}, admin);
    expect(out.outcome).toBe('updated');
    expect((await store.get(ref))?.resource.spec).toEqual(payments.spec);
  });

  it('write - If-Match against a stale copy is decided by the store', async () => {
    const { held, store, writer } = setUp();
    const first = await store.create(payments);
    held.set(refKey(ref), { resource: payments, revision: first });
    const second = await store.update(withPort(7000), first);
    await expect(writer.write(withPort(9443), { ifMatch: first }, admin)).rejects.toMatchObject({
      code: 'revision_mismatch',
    });
    const out = await writer.write(withPort(9443), { ifMatch: second }, admin);
    expect(out.outcome).toBe('updated');
  });
});

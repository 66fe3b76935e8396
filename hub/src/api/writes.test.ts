import { type Resource, type ResourceRef, refKey, silentLogger } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { createMemoryAuditLog } from '../audit/memory.js';
import { createHubMetrics } from '../metrics/index.js';
import { createMemoryConfigStore } from '../store/memory.js';
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
  // The same store, its reads counted.
  const counting = new Proxy(store, {
    get(target, prop) {
      if (prop === 'get')
        return (r: ResourceRef) => {
          reads.push(refKey(r));
          return target.get(r);
        };
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const held = new Map<string, Resource>();
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
    held.set(refKey(ref), payments);
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
    await writer.write(payments, {}, admin);
    held.set(refKey(ref), payments); // the watch caught up with the create, not yet with the delete
    await writer.delete(ref, undefined, admin);
    expect(await store.get(ref)).toBeUndefined();
    expect(await writer.referent(ref)).toBeUndefined();
  });
});

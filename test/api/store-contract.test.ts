import {
  type ConfigChange,
  type ConfigStore,
  createKvConfigStore,
  createMemoryConfigStore,
} from '@fedmesh/hub';
import { API_VERSION, ErrorCode, isFedmeshError, type Resource, sampleMesh } from '@fedmesh/shared';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

/**
 * One contract, every implementation: the memory store stands in for the KV store in fast
 * tests only as long as both pass this suite.
 */
let nats: NatsServerHandle;
let nc: NatsConnection;
let bucketSeq = 0;

beforeAll(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
});
afterAll(async () => {
  await nc?.close();
  await nats?.cleanup();
});

const implementations: [string, () => Promise<ConfigStore>][] = [
  ['memory', async () => createMemoryConfigStore()],
  // A bucket per test: tests stay independent on one server.
  ['kv', async () => createKvConfigStore(nc, { bucket: `contract_${process.pid}_${++bucketSeq}` })],
];

const service = (name: string, port = 8080, ns = 'shop'): Resource => ({
  apiVersion: API_VERSION,
  kind: 'Service',
  metadata: { name, namespace: ns },
  spec: { ports: [{ name: 'http', port, protocol: 'http' }] },
});
const ref = (name: string, ns = 'shop') => ({ kind: 'Service' as const, namespace: ns, name });

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isFedmeshError(err), `expected a FedmeshError ${code}, got ${String(err)}`).toBe(true);
  expect((err as { code: string }).code).toBe(code);
}

describe.each(implementations)('store contract (%s)', (_name, make) => {
  let store: ConfigStore;
  beforeEach(() => {
    printLogsOnFailure(nats);
  });

  it('store - starts empty at revision 0', async () => {
    store = await make();
    expect(await store.revision()).toBe(0);
    expect(await store.list()).toEqual([]);
    expect(await store.get(ref('nope'))).toBeUndefined();
    expect(await store.history(ref('nope'))).toEqual([]);
  });

  it('store - create returns increasing revisions and refuses what exists', async () => {
    store = await make();
    const r1 = await store.create(service('a'));
    const r2 = await store.create(service('b'));
    expect(r2).toBeGreaterThan(r1);
    expect(await store.revision()).toBe(r2);
    await expectCode(store.create(service('a', 9999)), ErrorCode.AlreadyExists);
    expect((await store.get(ref('a')))?.resource).toEqual(service('a'));
  });

  it('store - update succeeds only on the expected revision', async () => {
    store = await make();
    const r1 = await store.create(service('a'));
    const r2 = await store.update(service('a', 81), r1);
    expect(r2).toBeGreaterThan(r1);
    await expectCode(store.update(service('a', 82), r1), ErrorCode.RevisionMismatch);
    await expectCode(store.update(service('missing'), 1), ErrorCode.NotFound);
    expect(await store.get(ref('a'))).toEqual({ resource: service('a', 81), revision: r2 });
  });

  it('store - a stale revision mismatch says which revision is current', async () => {
    store = await make();
    const r1 = await store.create(service('a'));
    const r2 = await store.put(service('a', 81));
    const err = await store.update(service('a', 82), r1).catch((e: unknown) => e);
    expect(isFedmeshError(err, ErrorCode.RevisionMismatch)).toBe(true);
    expect((err as { details: Record<string, unknown> }).details.currentRevision).toBe(r2);
  });

  it('store - put creates and replaces without a precondition', async () => {
    store = await make();
    const r1 = await store.put(service('a'));
    const r2 = await store.put(service('a', 81));
    expect(r2).toBeGreaterThan(r1);
    expect((await store.get(ref('a')))?.revision).toBe(r2);
  });

  it('store - delete honours the expected revision and leaves nothing behind', async () => {
    store = await make();
    const r1 = await store.create(service('a'));
    await expectCode(store.delete(ref('a'), r1 + 100), ErrorCode.RevisionMismatch);
    const rd = await store.delete(ref('a'), r1);
    expect(rd).toBeGreaterThan(r1);
    expect(await store.get(ref('a'))).toBeUndefined();
    expect(await store.list()).toEqual([]);
    await expectCode(store.delete(ref('a')), ErrorCode.NotFound);
    // A deleted name can be created again.
    expect(await store.create(service('a'))).toBeGreaterThan(rd);
  });

  it('store - lists by kind and namespace in a stable order', async () => {
    store = await make();
    for (const r of sampleMesh()) await store.put(r);
    await store.put(service('zeta', 80, 'other'));
    const all = await store.list();
    expect(all).toHaveLength(sampleMesh().length + 1);
    const keys = all.map(
      (s) => `${s.resource.kind}/${s.resource.metadata.namespace ?? '_'}/${s.resource.metadata.name}`,
    );
    expect(keys).toEqual([...keys].sort((a, b) => a.localeCompare(b)));
    expect((await store.list({ kind: 'Region' })).map((s) => s.resource.metadata.name)).toEqual([
      'ap-south',
      'eu-west',
      'us-east',
    ]);
    expect(
      (await store.list({ kind: 'Service', namespace: 'other' })).map((s) => s.resource.metadata.name),
    ).toEqual(['zeta']);
    expect(await store.list({ kind: 'Service', namespace: 'nowhere' })).toEqual([]);
  });

  it('store - keeps the history of a resource, deletions included, oldest first', async () => {
    store = await make();
    const r1 = await store.create(service('a'));
    await store.put(service('b'));
    const r2 = await store.update(service('a', 81), r1);
    const r3 = await store.delete(ref('a'));
    const h = await store.history(ref('a'));
    expect(h.map((c) => [c.op, c.revision])).toEqual([
      ['put', r1],
      ['put', r2],
      ['delete', r3],
    ]);
    expect(h[1]!.resource).toEqual(service('a', 81));
    expect(h.every((c) => c.time instanceof Date)).toBe(true);
  });

  it('store - watch replays the current state, becomes ready, then follows changes', async () => {
    store = await make();
    await store.put(service('a'));
    const r = await store.put(service('b'));
    await store.delete(ref('a'));
    const abort = new AbortController();
    const seen: ConfigChange[] = [];
    let ready!: () => void;
    const readyP = new Promise<void>((res) => {
      ready = res;
    });
    const loop = (async () => {
      for await (const c of store.watch({ onReady: ready, signal: abort.signal })) {
        seen.push(c);
        if (c.op === 'put' && c.ref.name === 'c') abort.abort();
      }
    })();
    await readyP;
    expect(seen.some((c) => c.op === 'put' && c.ref.name === 'b' && c.revision === r)).toBe(true);
    expect(seen.some((c) => c.op === 'put' && c.ref.name === 'a')).toBe(false);
    await store.put(service('c'));
    await loop;
    expect(seen.at(-1)).toMatchObject({ op: 'put', ref: ref('c') });
  });

  it('store - watch after a revision sees only later changes', async () => {
    store = await make();
    await store.put(service('a'));
    const r = await store.put(service('b'));
    const abort = new AbortController();
    const seen: ConfigChange[] = [];
    const loop = (async () => {
      for await (const c of store.watch({ afterRevision: r, signal: abort.signal })) {
        seen.push(c);
        abort.abort();
      }
    })();
    await store.delete(ref('a'));
    await loop;
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ op: 'delete', ref: ref('a') });
  });

  it('store - concurrent updates on one revision: exactly one wins', async () => {
    store = await make();
    const r1 = await store.create(service('a'));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.update(service('a', 9000 + i), r1)),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(isFedmeshError(r.reason, ErrorCode.RevisionMismatch)).toBe(true);
  });
});

describe('kv store', () => {
  it('store - refuses a resource larger than NATS accepts with payload_too_large', async () => {
    const store = await createKvConfigStore(nc, { bucket: `contract_${process.pid}_big` });
    const big = service('big');
    (big.metadata as { annotations?: Record<string, string> }).annotations = {
      a: 'x'.repeat(60_000),
      ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'y'.repeat(60_000)])),
    };
    await expectCode(store.put(big), ErrorCode.PayloadTooLarge);
    await expectCode(store.create(big), ErrorCode.PayloadTooLarge);
  });
});

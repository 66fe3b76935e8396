/**
 * An apply plans its documents from the config watch's copy, and the store confirms that plan by
 * taking each write pinned to the copy's revision. These tests hold the watch back (another
 * replica's write the watch has not delivered yet) and check that every document still fares as
 * it would have from a store read: nothing lost, nothing reported unchanged that the store holds
 * otherwise, no conflict the store would not report.
 */
import { API_VERSION, type ResourceRef, refKey } from '@fedmesh/shared';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryConfigStore } from '../../hub/src/store/index.js';
import { withCountedReads } from '../../hub/src/store/test-fixtures.js';
import { auth, buildTestApi, type TestApi } from './support.js';

/** The memory store with its reads counted and a watch that can be held still. */
function laggingStore() {
  const inner = createMemoryConfigStore();
  const reads: string[] = [];
  let release: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  const store = withCountedReads(inner, reads, {
    async *watch(opts) {
      for await (const change of inner.watch(opts)) {
        if (gate) await gate;
        yield change;
      }
    },
  });
  return {
    inner,
    store,
    reads,
    hold: () => {
      gate = new Promise((r) => {
        release = r;
      });
    },
    release: () => {
      gate = undefined;
      release?.();
    },
  };
}

let t: TestApi | undefined;
let lag: ReturnType<typeof laggingStore> | undefined;
afterEach(async () => {
  lag?.release();
  await t?.close();
  t = undefined;
});

const ref: ResourceRef = { kind: 'Service', namespace: 'shop', name: 'cart' };
const service = (port: number, revision?: number) => ({
  apiVersion: API_VERSION,
  kind: 'Service',
  metadata: { name: 'cart', namespace: 'shop', ...(revision === undefined ? {} : { revision }) },
  spec: { ports: [{ name: 'http', port, protocol: 'http' }] },
});

async function apply(docs: unknown[]) {
  const res = await t!.app.inject({ method: 'POST', url: '/v1/apply', headers: auth(), payload: docs });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

/** Cart at port 80, seen by the watch; then port 7000 written behind its back. */
async function setUp(): Promise<{ first: number; second: number }> {
  lag = laggingStore();
  t = await buildTestApi({ store: lag.store });
  const created = await apply([service(80)]);
  expect(created.status).toBe(200);
  const first = created.body.items[0].revision as number;
  await t.engine.flush(); // the watch holds revision `first`
  expect(t.engine.stored(ref)?.revision).toBe(first);
  lag.hold();
  const second = await lag.inner.update(service(7000) as never, first);
  expect(t.engine.stored(ref)?.revision).toBe(first);
  lag.reads.length = 0;
  return { first, second };
}

describe('apply from the watch copy', () => {
  it('apply - documents the watch holds, or knows to be absent, are written without a store read', async () => {
    lag = laggingStore();
    t = await buildTestApi({ store: lag.store });
    const created = await apply([service(80)]);
    expect(created.body.items[0].result).toBe('created');
    expect(lag.reads).toEqual([]);
    await t.engine.flush();
    const updated = await apply([service(81)]);
    expect(updated.body.items[0].result).toBe('updated');
    expect(lag.reads).toEqual([]);
    expect((await lag.inner.get(ref))?.resource.spec).toEqual(service(81).spec);
  });

  it('apply - a copy behind the store: the write is planned again from the store and lands', async () => {
    const { second } = await setUp();
    const out = await apply([service(9000)]);
    expect(out.status).toBe(200);
    expect(out.body.items[0]).toMatchObject({ result: 'updated' });
    expect(out.body.items[0].revision).toBeGreaterThan(second);
    expect(lag!.reads).toContain(refKey(ref));
    expect((await lag!.inner.get(ref))?.resource.spec).toEqual(service(9000).spec);
  });

  it('apply - what the stale copy holds is not "unchanged" while the store holds something else', async () => {
    await setUp();
    const out = await apply([service(80)]);
    expect(out.body.items[0].result).toBe('updated');
    expect((await lag!.inner.get(ref))?.resource.spec).toEqual(service(80).spec);
  });

  it('apply - one the watch has not seen created yet: the create is refused, and it is updated from the store', async () => {
    lag = laggingStore();
    t = await buildTestApi({ store: lag.store });
    lag.hold();
    await lag.inner.create(service(7000) as never); // another replica's create, not yet on this watch
    expect(t.engine.stored(ref)).toBeUndefined();
    const out = await apply([service(9000)]);
    expect(out.status).toBe(200);
    expect(out.body.items[0].result).toBe('updated');
    expect((await lag.inner.get(ref))?.resource.spec).toEqual(service(9000).spec);
  });

  it('apply - metadata.revision is held against the store, not the copy', async () => {
    const { first, second } = await setUp();
    const current = await apply([service(9000, second)]);
    expect(current.body.items[0].result).toBe('updated');
    const stale = await apply([service(9001, first)]);
    expect(stale.status).toBe(409);
    expect(stale.body.items[0].result).toBe('conflict');
    expect((await lag!.inner.get(ref))?.resource.spec).toEqual(service(9000).spec);
  });

  it('apply - a dry run diffs against the store', async () => {
    await setUp();
    const res = await t!.app.inject({
      method: 'POST',
      url: '/v1/apply?dryRun=true',
      headers: auth(),
      payload: [service(80)],
    });
    const item = JSON.parse(res.body).items[0];
    expect(item.result).toBe('updated');
    expect(item.patch).toEqual([{ op: 'replace', path: '/spec/ports/0/port', value: 80 }]);
  });
});

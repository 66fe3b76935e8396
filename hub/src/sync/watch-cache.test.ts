import { createLogger } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { svc } from '../scope/test-fixtures.js';
import { type ConfigStore, createMemoryConfigStore } from '../store/index.js';
import { createConfigWatchCache } from './watch-cache.js';

/**
 * A store whose first watch goes silent after `deliverFirst` changes while writes go on being
 * acknowledged: what an ordered consumer does when the server hosting it dies (nats.js recreates
 * it only after missed heartbeats, 30 s apart once recreated).
 */
function storeWithSilentWatch(deliverFirst: number): { store: ConfigStore; watches: () => number } {
  const inner = createMemoryConfigStore();
  let watches = 0;
  const store: ConfigStore = {
    ...inner,
    get: inner.get.bind(inner),
    list: inner.list.bind(inner),
    create: inner.create.bind(inner),
    update: inner.update.bind(inner),
    put: inner.put.bind(inner),
    delete: inner.delete.bind(inner),
    history: inner.history.bind(inner),
    revision: inner.revision.bind(inner),
    watch(opts) {
      const n = ++watches;
      const source = inner.watch(opts);
      if (n > 1) return source;
      return (async function* () {
        let given = 0;
        for await (const change of source) {
          if (given++ >= deliverFirst) {
            // Silent from here on, until the watch is ended.
            await new Promise<void>((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
            return;
          }
          yield change;
        }
      })();
    },
  };
  return { store, watches: () => watches };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('config watch cache', () => {
  it('watch - a watch that stands still behind the store is started again after the last revision taken, nothing lost or taken twice', async () => {
    const { store, watches } = storeWithSilentWatch(2);
    const seen: string[] = [];
    const cache = createConfigWatchCache({
      store,
      logger: createLogger({ name: 'test', level: 'silent' }),
      onChange: (key) => seen.push(key),
      watchCheckMs: 20,
      watchStallMs: 100,
    });
    await cache.start();
    try {
      for (const name of ['a', 'b', 'c', 'd', 'e']) await store.put(svc(name));
      const head = await store.revision();
      await until(() => cache.revision() === head, 'the cache to reach the store');
      expect(watches()).toBe(2);
      expect(cache.rewatches()).toBe(1);
      expect(seen.map((k) => k.split('/').pop())).toEqual(['a', 'b', 'c', 'd', 'e']);
      expect([...cache.resources()].map((r) => r.metadata.name).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    } finally {
      await cache.stop();
    }
  });

  it('watch - a watch that keeps up is never started again', async () => {
    const store = createMemoryConfigStore();
    const cache = createConfigWatchCache({
      store,
      logger: createLogger({ name: 'test', level: 'silent' }),
      watchCheckMs: 10,
      watchStallMs: 50,
    });
    await cache.start();
    try {
      for (let i = 0; i < 20; i++) {
        await store.put(svc(`s${i}`));
        await new Promise((r) => setTimeout(r, 15));
      }
      await until(async () => cache.revision() === (await store.revision()), 'the cache to reach the store');
      await new Promise((r) => setTimeout(r, 150));
      expect(cache.rewatches()).toBe(0);
    } finally {
      await cache.stop();
    }
  });
});

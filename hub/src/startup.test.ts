import { silentLogger } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { untilDone } from './startup.js';
import { createMemoryConfigStore } from './store/index.js';
import { createConfigWatchCache } from './sync/watch-cache.js';

describe('hub start-up', () => {
  it('startup - a step that fails is retried with a back-off doubling from 0.5 s to 5 s, until it succeeds', async () => {
    const waits: number[] = [];
    let calls = 0;
    const out = await untilDone(
      'JetStream set-up',
      silentLogger(),
      async () => {
        if (++calls < 7) throw new Error('JetStream not available');
        return 'ready';
      },
      async (ms) => {
        waits.push(ms);
      },
    );
    expect(out).toBe('ready');
    expect(waits).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
  });

  it('startup - the config watch cache rejects a start whose watch fails, and a second start delivers the config', async () => {
    const store = createMemoryConfigStore();
    await store.put({
      apiVersion: 'fedmesh.io/v1',
      kind: 'Region',
      metadata: { name: 'eu-west' },
      spec: {},
    } as never);
    let failures = 1;
    const flaky = {
      ...store,
      watch(opts: Parameters<typeof store.watch>[0]) {
        if (failures-- > 0) {
          // What a KV watch does when JetStream does not answer: it ends with an error.
          const failing: AsyncIterable<never> = {
            [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('timeout')) }),
          };
          return failing;
        }
        return store.watch(opts);
      },
    };
    const cache = createConfigWatchCache({ store: flaky, logger: silentLogger() });
    // It used to wait for a ready that never came.
    await expect(cache.start()).rejects.toThrow('timeout');
    await cache.start();
    expect(cache.resource({ kind: 'Region', namespace: '_', name: 'eu-west' })).toBeDefined();
    await cache.stop();
  });
});

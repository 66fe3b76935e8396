/**
 * A hub's config watch replays the last value of every key from the one replica its consumer
 * was placed on. The chaos suite caught a hub starting on a replica that was rebuilding its store
 * after a restart: the replay named a few keys and not the others, reached the store's revision,
 * and the hub published views of that partial config as that revision, next to the other
 * replica's full ones: two hashes for one (region, version). Which replica the server picks
 * cannot be arranged from a test, so the replay's loss is played by wrapping the store's KV watch
 * (the only stand-in here); the store, the stream and the server are real.
 */
import { createKvConfigStore } from '@fedmesh/hub';
import { sampleMesh, silentLogger } from '@fedmesh/shared';
import type { KV, KvWatchEntry } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { createConfigWatchCache } from '../../hub/src/sync/watch-cache.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

describe('config watch against a replica that is not current', () => {
  let nats: NatsServerHandle | undefined;
  let nc: NatsConnection | undefined;

  afterAll(async () => {
    await nc?.close();
    await nats?.cleanup();
  });

  it('store - a replay that names fewer keys than the store holds fails the start, and the next watch loads them all', async () => {
    nats = await startNatsServer();
    printLogsOnFailure(nats);
    nc = await connect({ servers: nats.url });
    const store = await createKvConfigStore(nc);
    const mesh = sampleMesh();
    for (const r of mesh) await store.put(r);

    // The first watch reads "a replica" that lacks every ServiceEndpoints.
    const kv = (store as unknown as { kv: KV }).kv;
    const watch = kv.watch.bind(kv);
    let stale = true;
    kv.watch = (async (opts) => {
      const it = await watch(opts);
      if (!stale) return it;
      stale = false;
      const partial = (async function* () {
        for await (const e of it as AsyncIterable<KvWatchEntry>)
          if (!e.key.startsWith('ServiceEndpoints.')) yield e;
      })();
      return Object.assign(partial, { stop: () => it.stop() }) as never;
    }) as KV['watch'];

    const cache = createConfigWatchCache({ store, logger: silentLogger() });
    const endpoints = mesh.filter((r) => r.kind === 'ServiceEndpoints').length;
    await expect(cache.start()).rejects.toThrow(
      `replayed ${mesh.length - endpoints} of the ${mesh.length} keys the store holds`,
    );
    await cache.start();
    expect([...cache.resources()]).toHaveLength(mesh.length);
    expect(cache.revision()).toBe(mesh.length);
    await cache.stop();
  }, 60_000);
});

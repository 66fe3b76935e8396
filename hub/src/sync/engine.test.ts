import {
  API_VERSION,
  CatchUpReason,
  createLogger,
  ErrorCode,
  FedmeshError,
  MessageType,
  messageId,
  type Resource,
  sampleMesh,
  viewHash,
} from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { scopeRegion } from '../scope/index.js';
import { type ConfigStore, createMemoryConfigStore } from '../store/index.js';
import type { OutgoingMessage } from './encoder.js';
import { createSyncEngine } from './engine.js';
import type { SyncPublisher } from './publisher.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jitter = (max: number) => sleep(Math.floor(Math.random() * max));

/**
 * The two JetStream rules replicas rely on, and nothing else: a message id already stored is
 * acknowledged as a duplicate, and a message whose expected last subject sequence is not the
 * subject's last is refused. Every call takes a random few milliseconds so replicas interleave.
 */
function fakeStream() {
  const msgs: { region: string; meta: OutgoingMessage['meta'] }[] = [];
  const ids = new Map<string, number>();
  const lastSeq = (region: string) => {
    for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i]!.region === region) return i + 1;
    return 0;
  };
  const publisher: SyncPublisher = {
    async head(region) {
      await jitter(3);
      const seq = lastSeq(region);
      const meta = msgs[seq - 1]?.meta;
      return meta && { seq, version: meta.toVersion, hash: meta.toHash };
    },
    async publish(region, messages, expectedSeq) {
      let expected = expectedSeq;
      let firstSeq = 0;
      let duplicate = true;
      for (const msg of messages) {
        await jitter(3);
        const id = messageId(msg.meta);
        const stored = ids.get(id);
        if (stored === undefined) {
          if (lastSeq(region) !== expected)
            throw new FedmeshError(ErrorCode.RevisionMismatch, 'wrong last seq');
          msgs.push({ region, meta: msg.meta });
          ids.set(id, msgs.length);
          duplicate = false;
        }
        expected = stored ?? msgs.length;
        firstSeq ||= expected;
      }
      return { firstSeq, lastSeq: expected, bytes: 0, duplicate };
    },
  };
  /** What an agent replaying the subject from the start would find wrong with it. */
  const faults = (region: string) => {
    let held = 0;
    let breaks = 0;
    const hashes = new Map<number, Set<string>>();
    for (const { meta } of msgs.filter((m) => m.region === region)) {
      hashes.set(meta.toVersion, (hashes.get(meta.toVersion) ?? new Set()).add(meta.toHash));
      if (meta.chunk.index !== meta.chunk.count) continue;
      if (meta.type === MessageType.Snapshot) held = Math.max(held, meta.toVersion);
      else if (meta.toVersion > held) {
        if (meta.fromVersion !== held) breaks++;
        held = meta.toVersion;
      }
    }
    const versionsWithTwoViews = [...hashes].filter(([, h]) => h.size > 1).length;
    return { messages: msgs.filter((m) => m.region === region).length, breaks, versionsWithTwoViews };
  };
  /** Every (version, hash) published for a region, in order. */
  const published = (region: string) =>
    msgs.filter((m) => m.region === region).map((m) => ({ version: m.meta.toVersion, hash: m.meta.toHash }));
  return { publisher, faults, published };
}

/** Delivers each change after a random delay, so that one replica lags behind the other. */
function laggy(store: ConfigStore, maxMs: number): ConfigStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== 'watch') return Reflect.get(target, prop, receiver);
      return (opts: Parameters<ConfigStore['watch']>[0]) =>
        (async function* () {
          for await (const change of target.watch(opts)) {
            await jitter(maxMs);
            yield change;
          }
        })();
    },
  });
}

const endpoints = (i: number) =>
  ({
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: 'frontend-eu-west', namespace: 'shop' },
    spec: { service: 'frontend', region: 'eu-west', endpoints: [{ address: `10.1.1.${i + 1}`, port: 8080 }] },
  }) as Resource;

const paymentsUsEast = (n: number) =>
  ({
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: 'payments-us-east', namespace: 'shop' },
    spec: {
      service: 'payments',
      region: 'us-east',
      endpoints: Array.from({ length: n }, (_, j) => ({ address: `10.2.0.${j + 1}`, port: 8443 })),
    },
  }) as Resource;

describe('sync engine', () => {
  it('engine - two replicas on one stream never break a chain, also while agents ask for snapshots', async () => {
    const logger = createLogger({ name: 'engine-test', level: 'silent' });
    for (let round = 0; round < 8; round++) {
      const store = createMemoryConfigStore();
      const stream = fakeStream();
      const replica = (lagMs: number, debounceMs: number) =>
        createSyncEngine({
          store: laggy(store, lagMs),
          publisher: stream.publisher,
          logger,
          options: { debounceMs, maxWaitMs: 200, chunkSize: 64 * 1024, retryMs: 50 },
        });
      const hubs = [replica(2, 20), replica(15, 35)] as const;
      for (const h of hubs) await h.start();
      for (const r of sampleMesh()) await store.put(r);
      await sleep(100);
      await Promise.all([
        ...Array.from({ length: 40 }, async (_, i) => {
          await jitter(100);
          await store.put(endpoints(i));
        }),
        // An agent's resync is answered by whichever replica gets it, caught up or not.
        ...Array.from({ length: 8 }, async (_, i) => {
          await jitter(120);
          await hubs[i % 2]!.publishSnapshot('eu-west');
        }),
      ]);
      await sleep(300);
      for (const h of hubs) await h.flush();
      for (const h of hubs) await h.stop();
      expect(hubs[0].view('eu-west')?.hash).toBe(hubs[1].view('eu-west')?.hash);
      const faults = stream.faults('eu-west');
      expect(faults.messages, `round ${round}`).toBeGreaterThan(1);
      expect(faults, `round ${round}`).toMatchObject({ breaks: 0, versionsWithTwoViews: 0 });
    }
  }, 60_000);

  it('engine - every published version names the view of the config at that revision, while changes keep arriving', async () => {
    const logger = createLogger({ name: 'engine-test', level: 'silent' });
    const store = createMemoryConfigStore();
    const stream = fakeStream();
    const engine = createSyncEngine({
      store,
      publisher: stream.publisher,
      logger,
      options: { debounceMs: 5, maxWaitMs: 30, chunkSize: 64 * 1024, retryMs: 50 },
    });
    // The config as of every revision, to compute what each version must hold from scratch.
    const config = new Map<string, Resource>();
    const at = new Map<number, Resource[]>();
    const put = async (r: Resource) => {
      const revision = await store.put(r);
      config.set(`${r.kind}/${r.metadata.namespace ?? '_'}/${r.metadata.name}`, r);
      at.set(revision, [...config.values()]);
    };
    for (const r of sampleMesh()) await put(r);
    await engine.start();
    // Writes land while publications (each a few ms on the fake stream) are in flight, and
    // reach several regions, so one round of publication awaits between regions.
    for (let i = 0; i < 60; i++) {
      // payments runs in us-east and eu-west: its healthy count in us-east is in both views.
      await put(i % 2 ? endpoints(i) : paymentsUsEast(1 + (i % 5)));
      if (i % 3 === 0) await jitter(8);
    }
    await sleep(200);
    await engine.flush();
    await engine.stop();
    for (const region of ['eu-west', 'us-east']) {
      const published = stream.published(region);
      expect(published.length, region).toBeGreaterThan(5);
      for (const { version, hash } of published) {
        expect(hash, `${region} version ${version}`).toBe(viewHash(scopeRegion(region, at.get(version)!)));
      }
    }
  }, 60_000);

  it('engine - reports each change once, when every region it reached has it, also when a publication failed first', async () => {
    const logger = createLogger({ name: 'engine-test', level: 'silent' });
    const store = createMemoryConfigStore();
    const stream = fakeStream();
    let failNext = 0;
    const publisher: SyncPublisher = {
      head: stream.publisher.head,
      async publish(region, messages, expectedSeq) {
        if (failNext > 0) {
          failNext--;
          throw new FedmeshError(ErrorCode.Unavailable, 'nats down');
        }
        return stream.publisher.publish(region, messages, expectedSeq);
      },
    };
    const waits: number[] = [];
    const engine = createSyncEngine({
      store,
      publisher,
      logger,
      onChangesPublished: (w) => waits.push(...w),
      options: { debounceMs: 5, maxWaitMs: 30, chunkSize: 64 * 1024, retryMs: 40 },
    });
    for (const r of sampleMesh()) await store.put(r);
    await engine.start();
    expect(waits, 'the initial config is not a change').toEqual([]);
    for (let i = 0; i < 10; i++) await store.put(endpoints(i));
    await sleep(150);
    await engine.flush();
    expect(waits).toHaveLength(10);
    failNext = 1;
    await store.put(endpoints(20));
    await sleep(20);
    expect(waits, 'not reported while a region still lacks it').toHaveLength(10);
    await sleep(200);
    await engine.flush();
    await engine.stop();
    expect(waits).toHaveLength(11);
    expect(waits.at(-1)!, 'the retry counts in its wait').toBeGreaterThanOrEqual(35);
  }, 60_000);

  it('engine - holds a region whose line is behind and sends only its latest state once the queue drains', async () => {
    const logger = createLogger({ name: 'engine-test', level: 'silent' });
    const store = createMemoryConfigStore();
    const stream = fakeStream();
    let drainMs: number | undefined = 10_000;
    const engine = createSyncEngine({
      store,
      publisher: stream.publisher,
      logger,
      lineDrainMs: (region) => (region === 'eu-west' ? drainMs : 0),
      options: { debounceMs: 5, maxWaitMs: 30, chunkSize: 64 * 1024, retryMs: 50, coalesceAfterMs: 3000 },
    });
    const config = new Map<string, Resource>();
    const put = async (r: Resource) => {
      await store.put(r);
      config.set(`${r.kind}/${r.metadata.namespace ?? '_'}/${r.metadata.name}`, r);
    };
    for (const r of sampleMesh()) await put(r);
    await engine.start();
    const before = stream.published('eu-west').length;
    const usEastBefore = stream.published('us-east').length;
    for (let i = 0; i < 30; i++) {
      await put(i % 2 ? endpoints(i) : paymentsUsEast(1 + (i % 5)));
      await sleep(12);
    }
    await sleep(100);
    await engine.flush();
    expect(stream.published('eu-west').length, 'nothing goes to a region while its queue drains').toBe(
      before,
    );
    expect(stream.published('us-east').length, 'other regions keep every state').toBeGreaterThan(
      usEastBefore + 5,
    );
    const held = engine.stats('eu-west')!;
    expect(held.holdingSince).toBeInstanceOf(Date);
    expect(held.coalescedRounds).toBeGreaterThan(5);
    expect(engine.view('eu-west')!.hash, 'the desired view moves on').toBe(
      viewHash(scopeRegion('eu-west', [...config.values()])),
    );

    drainMs = 500; // the agent caught up
    await waitUntil(() => stream.published('eu-west').length > before);
    await engine.flush();
    const sent = stream.published('eu-west').slice(before);
    expect(sent, 'one delta, to the latest view').toEqual([
      {
        version: engine.view('eu-west')!.version,
        hash: viewHash(scopeRegion('eu-west', [...config.values()])),
      },
    ]);
    expect(stream.faults('eu-west')).toMatchObject({ breaks: 0, versionsWithTwoViews: 0 });
    expect(engine.stats('eu-west')!.holdingSince).toBeUndefined();

    // An agent whose drain is unknown (silent, or no budget) is never held.
    drainMs = undefined;
    await put(endpoints(99));
    await sleep(50);
    await engine.flush();
    expect(stream.published('eu-west').length).toBe(before + 2);
    await engine.stop();
  }, 60_000);

  it('engine - a catch-up request publishes a held region at once', async () => {
    const logger = createLogger({ name: 'engine-test', level: 'silent' });
    const store = createMemoryConfigStore();
    const stream = fakeStream();
    const engine = createSyncEngine({
      store,
      publisher: stream.publisher,
      logger,
      lineDrainMs: () => 60_000,
      options: { debounceMs: 5, maxWaitMs: 30, chunkSize: 64 * 1024, retryMs: 50, coalesceAfterMs: 3000 },
    });
    for (const r of sampleMesh()) await store.put(r);
    await engine.start();
    const start = engine.view('eu-west')!;
    for (let i = 0; i < 5; i++) await store.put(endpoints(i));
    await sleep(100);
    await engine.flush();
    expect(stream.published('eu-west').at(-1)!.version).toBe(start.version);
    const reply = await engine.catchUp('eu-west', {
      have: start.version,
      hash: start.hash,
      reason: CatchUpReason.Rejected,
    });
    const now = engine.view('eu-west')!;
    expect(reply).toMatchObject({ version: now.version, hash: now.hash });
    expect(stream.published('eu-west').at(-1)).toEqual({ version: now.version, hash: now.hash });
    await engine.stop();
  }, 60_000);
});

async function waitUntil(ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(20);
  }
}

import {
  applyPayload,
  CatchUpReason,
  Codec,
  canonicalJson,
  MessageType,
  mirror,
  type RegionView,
  type ViewResource,
  viewHash,
} from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import {
  type CatchUpContext,
  type CatchUpInput,
  coalescedOps,
  createKeyChangeIndex,
  decideCatchUp,
  planCatchUp,
} from './catch-up.js';

const input = (over: Partial<CatchUpInput>): CatchUpInput => ({
  reason: CatchUpReason.Behind,
  atHead: false,
  replayBytes: 10_000,
  deltaBytes: 2_000,
  snapshotBytes: 50_000,
  pending: 400,
  maxReplayMessages: 500,
  ...over,
});

describe('catch-up decision', () => {
  it('catch-up - the cheapest by bytes wins, not the count of messages', () => {
    expect(decideCatchUp(input({}))).toBe('delta');
    expect(decideCatchUp(input({ replayBytes: 1_500 }))).toBe('replay');
    // 400 messages of rolling restarts to the same keys: the coalesced delta is the small one.
    expect(decideCatchUp(input({ replayBytes: 526_000, deltaBytes: 9_000, snapshotBytes: 214_000 }))).toBe(
      'delta',
    );
    // Most of the view changed: the snapshot is smaller than both.
    expect(decideCatchUp(input({ replayBytes: 90_000, deltaBytes: 70_000, snapshotBytes: 60_000 }))).toBe(
      'snapshot',
    );
    // Three messages, but one of them a huge payload that a later change superseded.
    expect(decideCatchUp(input({ pending: 3, replayBytes: 400_000, deltaBytes: 300 }))).toBe('delta');
  });

  it('catch-up - ties go to what publishes nothing, then to the delta', () => {
    expect(decideCatchUp(input({ replayBytes: 2_000, deltaBytes: 2_000 }))).toBe('replay');
    expect(decideCatchUp(input({ replayBytes: 60_000, deltaBytes: 50_000 }))).toBe('delta');
  });

  it('catch-up - an agent at the head goes on; one without a view gets a snapshot', () => {
    expect(decideCatchUp(input({ atHead: true, reason: CatchUpReason.Rejected }))).toBe('current');
    expect(decideCatchUp(input({ reason: CatchUpReason.Start, deltaBytes: 10 }))).toBe('snapshot');
  });

  it('catch-up - a rejected message is never answered with the chain that led to it', () => {
    expect(decideCatchUp(input({ reason: CatchUpReason.Rejected, replayBytes: 1 }))).toBe('delta');
    expect(
      decideCatchUp(input({ reason: CatchUpReason.Rejected, replayBytes: 1, deltaBytes: undefined })),
    ).toBe('snapshot');
  });

  it('catch-up - a backlog of unknown size falls back to the count of messages', () => {
    const unknown = { replayBytes: undefined };
    expect(decideCatchUp(input({ ...unknown, pending: 20 }))).toBe('replay');
    expect(decideCatchUp(input({ ...unknown, pending: 900 }))).toBe('delta');
    expect(decideCatchUp(input({ ...unknown, pending: 900, deltaBytes: undefined }))).toBe('snapshot');
  });
});

describe('key change index and coalesced deltas', () => {
  it('catch-up - the index knows nothing before the version it started at', () => {
    const idx = createKeyChangeIndex();
    expect(idx.changedSince('eu-west', 5)).toBeUndefined();
    idx.reset('eu-west', 10);
    idx.record('eu-west', ['b', 'a'], 11);
    idx.record('eu-west', ['a'], 14);
    expect(idx.changedSince('eu-west', 9)).toBeUndefined();
    expect(idx.changedSince('eu-west', 10)).toEqual(['a', 'b']);
    expect(idx.changedSince('eu-west', 11)).toEqual(['a']);
    expect(idx.changedSince('eu-west', 14)).toEqual([]);
  });

  it('catch-up - one coalesced delta takes every version of a churning chain to the head, verified', () => {
    // A seeded random history: creates, updates and deletes of a few keys, some deleted and
    // created again, so that a key gone at the head may or may not exist at the agent's version.
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const idx = createKeyChangeIndex();
    const history: RegionView[] = [];
    let resources: Record<string, ViewResource> = {};
    const at = (version: number) => {
      history.push({ region: 'eu-west', version, hash: viewHash(resources), resources });
    };
    at(100);
    idx.reset('eu-west', 100);
    for (let version = 101; version <= 160; version++) {
      const next = { ...resources };
      const keys: string[] = [];
      for (let i = 0; i < 1 + rnd(3); i++) {
        const key = `ServiceEndpoints/shop/svc-${rnd(6)}`;
        keys.push(key);
        if (rnd(4) === 0) delete next[key];
        else {
          next[key] = {
            kind: 'ServiceEndpoints',
            metadata: { name: key.split('/')[2]!, namespace: 'shop' },
            spec: { endpoints: [{ address: `10.0.0.${rnd(250)}`, port: 8080 }] },
          } as unknown as ViewResource;
        }
      }
      resources = next;
      idx.record('eu-west', keys, version);
      at(version);
    }
    const head = history.at(-1)!;
    for (const held of history.slice(0, -1)) {
      const keys = idx.changedSince('eu-west', held.version)!;
      const ops = coalescedOps(keys, head.resources);
      const meta = {
        type: MessageType.Delta,
        region: 'eu-west',
        fromVersion: held.version,
        toVersion: head.version,
        toHash: head.hash,
        codec: 'identity' as const,
        chunk: { index: 1, count: 1 },
        rawSize: 0,
      };
      // Through JSON, as it travels.
      const payload = JSON.parse(canonicalJson({ ops }));
      const out = applyPayload(held, meta, payload, mirror(held.resources));
      expect(out.kind, `from ${held.version}`).toBe('applied');
      if (out.kind === 'applied') expect(out.view.hash).toBe(head.hash);
    }
  });
});

describe('catch-up plan', () => {
  const untouchable = () => {
    throw new Error('the view was read');
  };
  const ctx = (over: Partial<CatchUpContext>): CatchUpContext => ({
    region: 'eu-west',
    request: { have: 10, hash: 'a'.repeat(64), reason: CatchUpReason.Behind, after: 100 },
    version: 12,
    hash: 'b'.repeat(64),
    settled: true,
    headSeq: 120,
    resources: untouchable,
    changedSince: () => undefined,
    encoding: { codec: Codec.Identity, chunkSize: 64 * 1024 },
    snapshotBytes: 5000,
    replayBytes: () => 800,
    maxReplayMessages: 500,
    ...over,
  });

  it('catch-up - only what the choice needs is encoded', async () => {
    // No view: a snapshot, without sizing anything.
    expect(await planCatchUp(ctx({ request: { have: 0, reason: CatchUpReason.Start } }))).toEqual({
      plan: 'snapshot',
    });
    // A rejection the index cannot reach back to: the snapshot is the only way.
    expect(await planCatchUp(ctx({ request: { have: 5, reason: CatchUpReason.Rejected } }))).toEqual({
      plan: 'snapshot',
    });
    // At the head already.
    expect(
      (
        await planCatchUp(
          ctx({ request: { have: 12, hash: 'b'.repeat(64), reason: CatchUpReason.Rejected } }),
        )
      ).plan,
    ).toBe('current');
    // Behind with a small queue and a known snapshot size: replay, nothing encoded.
    expect((await planCatchUp(ctx({}))).plan).toBe('replay');
  });
});

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decompress,
  decompressStream,
  type EnvelopeMeta,
  encodeBody,
  type RegionView,
  silentLogger,
  type ViewResource,
  viewHash,
} from '@fedmesh/shared';
import type { Operation } from 'fast-json-patch';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AgentState, StateStore } from '../state/file-store.js';
import { createIntake, type IntakeDeps, type SyncMessage } from './intake.js';
import { createChunkSpool } from './spool.js';
import { zeroCounters } from './types.js';

const REGION = 'eu-west';
const KEY_A = 'Service/default/a';
const KEY_B = 'Service/default/b';

const resource = (name: string, port: number): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'Service',
  metadata: { name, namespace: 'default' },
  spec: { port },
});

function view(version: number, resources: Record<string, ViewResource>): RegionView {
  return { region: REGION, version, hash: viewHash(resources), resources };
}

const HELD = view(1, { [KEY_A]: resource('a', 80) });
const NEXT = view(2, { ...HELD.resources, [KEY_B]: resource('b', 81) });
const ADD_B: Operation[] = [{ op: 'add', path: '/Service~1default~1b', value: resource('b', 81) }];

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function deltaMeta(from: number, to: number, hash: string, rawSize: number): EnvelopeMeta {
  return {
    type: 'delta',
    region: REGION,
    fromVersion: from,
    toVersion: to,
    toHash: hash,
    codec: 'identity',
    chunk: { index: 1, count: 1 },
    rawSize,
  };
}

/** A delivered message that records its acknowledgements. */
function message(meta: EnvelopeMeta, payload: Uint8Array, seq: number, pending = 0) {
  return {
    data: encodeBody(meta, payload),
    seq,
    pending,
    acks: 0,
    ack() {
      this.acks++;
    },
  } satisfies SyncMessage & { acks: number };
}

function delta(from: number, to: number, hash: string, ops: Operation[], seq: number) {
  const payload = json({ ops });
  return message(deltaMeta(from, to, hash, payload.byteLength), payload, seq);
}

describe('message intake', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-intake-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function setup(overrides: Partial<IntakeDeps> = {}) {
    const saved: AgentState[] = [];
    /** Deltas per fsync of the journal. */
    const syncs: number[] = [];
    const store: StateStore = {
      load: async () => undefined,
      save: async (s) => void saved.push(s),
      record: async (s) => void saved.push(s),
      recordRun: async (steps) => {
        syncs.push(steps.length);
        for (const st of steps) saved.push(st.state);
      },
    };
    const applied: RegionView[] = [];
    const stats = zeroCounters();
    const spool = createChunkSpool(join(dir, 'spool'));
    const intake = createIntake({
      region: REGION,
      store,
      spool,
      log: silentLogger(),
      stats,
      maxPayloadBytes: 1024 * 1024,
      hint: () => undefined,
      onApplied: (v) => void applied.push(v),
      ...overrides,
    });
    intake.hold({ view: HELD, streamSeq: 5 });
    return { intake, stats, saved, applied, spool, syncs };
  }

  it('intake - a delta that continues the held version is persisted, then acknowledged', async () => {
    const { intake, stats, saved, applied } = setup();
    const m = delta(1, 2, NEXT.hash, ADD_B, 6);
    const order: string[] = [];
    const ack = m.ack.bind(m);
    m.ack = () => {
      order.push(`ack after ${saved.length} saved`);
      ack();
    };
    expect(await intake.handle(m)).toMatchObject({ outcome: 'ok', meta: { toVersion: 2 } });
    expect(order).toEqual(['ack after 1 saved']);
    expect(intake.state()).toEqual({ view: NEXT, streamSeq: 6 });
    expect(applied.map((v) => v.version)).toEqual([2]);
    expect(stats.applied).toBe(1);
  });

  it('intake - a message that does not continue the held version is rewound once, and a second time in a row asks for a resync', async () => {
    const { intake, stats, saved } = setup();
    const ahead = delta(3, 4, NEXT.hash, ADD_B, 8);
    expect((await intake.handle(ahead)).outcome).toBe('rewind');
    // Not acknowledged: it comes again after the replay, in order this time or not at all.
    expect(ahead.acks).toBe(0);
    expect(stats.rewinds).toBe(1);

    const again = delta(3, 4, NEXT.hash, ADD_B, 8);
    expect((await intake.handle(again)).outcome).toBe('resync');
    expect(again.acks).toBe(1);
    expect(stats).toMatchObject({ rewinds: 1, rejected: 1 });
    expect(intake.state()).toEqual({ view: HELD, streamSeq: 5 });
    expect(saved).toEqual([]);
  });

  it('intake - a message that moved the agent on makes the next out-of-order one a rewind again', async () => {
    const { intake } = setup();
    expect((await intake.handle(delta(3, 4, NEXT.hash, ADD_B, 8))).outcome).toBe('rewind');
    expect((await intake.handle(delta(1, 2, NEXT.hash, ADD_B, 6))).outcome).toBe('ok');
    expect((await intake.handle(delta(5, 6, NEXT.hash, ADD_B, 9))).outcome).toBe('rewind');
  });

  it('intake - a duplicate chunk is acknowledged and dropped', async () => {
    const { intake, stats, spool } = setup();
    const raw = json({ resources: NEXT.resources });
    const third = Math.ceil(raw.byteLength / 3);
    const chunk = (index: number, seq: number) => {
      const meta: EnvelopeMeta = {
        type: 'snapshot',
        region: REGION,
        fromVersion: 0,
        toVersion: 2,
        toHash: NEXT.hash,
        codec: 'identity',
        chunk: { index, count: 3 },
        rawSize: raw.byteLength,
      };
      return message(meta, raw.subarray((index - 1) * third, index * third), seq, 3 - index);
    };
    await spool.open();
    expect((await intake.handle(chunk(1, 10))).outcome).toBe('ok');
    const before = spool.progress();
    expect(before).toMatchObject({ chunks: 1, firstSeq: 10, lastSeq: 10 });

    const redelivered = chunk(1, 10);
    expect((await intake.handle(redelivered)).outcome).toBe('ok');
    expect(redelivered.acks).toBe(1);
    expect(stats.chunksSpooled).toBe(1);
    expect(spool.progress()).toEqual(before);

    expect((await intake.handle(chunk(2, 11))).outcome).toBe('ok');
    expect((await intake.handle(chunk(3, 12))).outcome).toBe('ok');
    expect(stats.chunksSpooled).toBe(3);
    expect(intake.state()).toEqual({ view: NEXT, streamSeq: 12 });
    expect(spool.progress()).toBeUndefined();
    await spool.close();
  });

  it('intake - a payload whose envelope announces a raw size over maxPayloadBytes is refused before anything is decompressed', async () => {
    const codec = { decompress: vi.fn(decompress), decompressStream: vi.fn(decompressStream) };
    const { intake, stats, spool } = setup({ maxPayloadBytes: 1000, codec });
    // Not even a valid payload: anything that looked at it would fail differently.
    const garbage = new Uint8Array(64).fill(0xff);
    const whole = message({ ...deltaMeta(1, 2, NEXT.hash, 1001), codec: 'br' }, garbage, 6);
    expect((await intake.handle(whole)).outcome).toBe('resync');
    expect(whole.acks).toBe(1);

    const meta: EnvelopeMeta = {
      ...deltaMeta(0, 2, NEXT.hash, 1001),
      type: 'snapshot',
      codec: 'br',
      chunk: { index: 1, count: 2 },
    };
    const chunk = message(meta, garbage, 7);
    expect((await intake.handle(chunk)).outcome).toBe('resync');
    expect(chunk.acks).toBe(1);

    expect(codec.decompress).not.toHaveBeenCalled();
    expect(codec.decompressStream).not.toHaveBeenCalled();
    expect(spool.progress()).toBeUndefined();
    expect(stats.rejected).toBe(2);
    expect(stats.lastError).toMatch(/over the limit/);
    expect(intake.state().view).toBe(HELD);
  });

  it('intake - a delta whose hash does not match is rejected whole and the held view is unchanged', async () => {
    const { intake, stats, saved, applied } = setup();
    const wrong = view(2, { [KEY_B]: resource('b', 81) }).hash;
    const m = delta(1, 2, wrong, ADD_B, 6);
    expect((await intake.handle(m)).outcome).toBe('resync');
    expect(m.acks).toBe(1);
    expect(stats).toMatchObject({ rejected: 1, applied: 0 });
    expect(stats.lastError).toMatch(/does not match/);
    expect(intake.state()).toEqual({ view: HELD, streamSeq: 5 });
    expect(HELD.resources).toEqual({ [KEY_A]: resource('a', 80) });
    expect(saved).toEqual([]);
    expect(applied).toEqual([]);

    // Nothing of the refused delta lingers in the verification state: the right one applies.
    expect((await intake.handle(delta(1, 2, NEXT.hash, ADD_B, 7))).outcome).toBe('ok');
    expect(intake.state().view).toEqual(NEXT);
  });

  it('intake - a bomb that announces a small payload is stopped at the size it announced, not at the limit', async () => {
    const { brotliCompressSync } = await import('node:zlib');
    const codec = { decompress: vi.fn(decompress), decompressStream: vi.fn(decompressStream) };
    const { intake, stats } = setup({ maxPayloadBytes: 64 << 20, codec });
    // 32 MiB of zeros in a few hundred bytes, announced as 2 KB.
    const bomb = brotliCompressSync(Buffer.alloc(32 << 20));
    const m = message({ ...deltaMeta(1, 2, NEXT.hash, 2000), codec: 'br' }, bomb, 6);
    expect((await intake.handle(m)).outcome).toBe('resync');
    expect(m.acks).toBe(1);
    expect(codec.decompress).toHaveBeenCalledWith('br', expect.anything(), 2000);
    expect(stats.rejected).toBe(1);
    expect(intake.state().view).toBe(HELD);
    // One that announces what it really decodes to is refused before anything is decoded.
    codec.decompress.mockClear();
    const honest = message({ ...deltaMeta(1, 2, NEXT.hash, 32 << 20), codec: 'br' }, bomb, 8);
    expect((await intake.handle(honest)).outcome).toBe('resync');
    expect(codec.decompress).not.toHaveBeenCalled();
    expect(stats.lastError).toMatch(/refused as a bomb/);
    // And a payload shorter than announced is no more acceptable than a longer one.
    const short = json({ ops: ADD_B });
    const lying = message({ ...deltaMeta(1, 2, NEXT.hash, short.byteLength + 10) }, short, 7);
    expect((await intake.handle(lying)).outcome).toBe('resync');
    expect(stats.lastError).toMatch(/not the announced/);
  });

  it('intake - a run of queued deltas is verified one by one, journalled with one write and acknowledged only then', async () => {
    const { intake, stats, saved, applied, syncs } = setup();
    let view = HELD;
    const msgs = [];
    for (let i = 0; i < 3; i++) {
      const key = `Service/default/run-${i}`;
      const next = { ...view.resources, [key]: resource(`run-${i}`, 90 + i) };
      const to = { region: REGION, version: view.version + 1, hash: viewHash(next), resources: next };
      const payload = json({ ops: [{ op: 'add', path: `/Service~1default~1run-${i}`, value: next[key] }] });
      msgs.push(
        message(deltaMeta(view.version, to.version, to.hash, payload.byteLength), payload, 10 + i, 2 - i),
      );
      view = to;
    }
    expect((await intake.handle(msgs[0]!)).outcome).toBe('ok');
    expect((await intake.handle(msgs[1]!)).outcome).toBe('ok');
    expect(
      msgs.map((m) => m.acks),
      'nothing acknowledged before it is on disk',
    ).toEqual([0, 0, 0]);
    expect(saved).toEqual([]);
    expect((await intake.handle(msgs[2]!)).outcome).toBe('ok');
    expect(syncs).toEqual([3]);
    expect(msgs.map((m) => m.acks)).toEqual([1, 1, 1]);
    expect(
      applied.map((v) => v.version),
      'handed on once, at the end of the run',
    ).toEqual([4]);
    expect(intake.state()).toEqual({ view, streamSeq: 12 });
    expect(stats.applied).toBe(3);
  });

  it('intake - a bad delta ends the run: the verified ones before it are persisted, it is rejected', async () => {
    const { intake, syncs } = setup();
    const ok = delta(1, 2, NEXT.hash, ADD_B, 6);
    const queued = { ...ok, pending: 1 };
    expect((await intake.handle(queued)).outcome).toBe('ok');
    const bad = message(deltaMeta(2, 3, 'f'.repeat(64), 20), json({ ops: [] }), 7, 0);
    expect((await intake.handle(bad)).outcome).toBe('resync');
    expect(syncs).toEqual([1]);
    expect(queued.acks).toBe(1);
    expect(intake.state()).toEqual({ view: NEXT, streamSeq: 6 });
  });
});

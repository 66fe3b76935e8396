import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, type RegionView, sha256Hex, type ViewResource, viewHash } from '@fedmesh/shared';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentState, createFileStateStore } from './file-store.js';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'fedmesh-state-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const resource = (i: number, payload = ''): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'Service',
  metadata: { name: `s${i}`, namespace: 'shop' },
  spec: { i, payload },
});

function view(version: number, resources: Record<string, ViewResource>): RegionView {
  return { region: 'eu-west', version, hash: viewHash(resources), resources };
}

/** Applies `ops` to `state` the way the agent does and records it. */
async function step(store: ReturnType<typeof createFileStateStore>, state: AgentState, ops: Operation[]) {
  const resources = fastJsonPatch.applyPatch(
    structuredClone(state.view.resources),
    ops,
    true,
    false,
  ).newDocument;
  const next: AgentState = { view: view(state.view.version + 1, resources), streamSeq: state.streamSeq + 1 };
  await store.record(next, state.view.version, ops);
  return next;
}

describe('file state store', () => {
  it('state - a snapshot plus recorded deltas loads back to exactly the last state', async () => {
    const dir = tempDir();
    const store = createFileStateStore(dir);
    let state: AgentState = { view: view(1, { 'Service/shop/s0': resource(0) }), streamSeq: 1 };
    await store.save(state);
    for (let i = 1; i <= 50; i++)
      state = await step(store, state, [{ op: 'add', path: `/Service~1shop~1s${i}`, value: resource(i) }]);
    const loaded = await createFileStateStore(dir).load();
    expect(loaded).toEqual(state);
  });

  it('state - a torn last journal line is ignored and an entry that does not verify ends the replay', async () => {
    const dir = tempDir();
    const store = createFileStateStore(dir);
    let state: AgentState = { view: view(1, {}), streamSeq: 1 };
    await store.save(state);
    state = await step(store, state, [{ op: 'add', path: '/Service~1shop~1a', value: resource(1) }]);
    const good = state;
    appendFileSync(
      join(dir, 'journal.jsonl'),
      '{"from":2,"to":3,"hash":"00","seq":3,"ops":[]}\n{"from":3,"to":4,"ha',
    );
    expect(await createFileStateStore(dir).load()).toEqual(good);
  });

  it('state - the journal is folded into a snapshot once it outgrows it', async () => {
    const dir = tempDir();
    const store = createFileStateStore(dir);
    let state: AgentState = { view: view(1, { 'Service/shop/s0': resource(0) }), streamSeq: 1 };
    await store.save(state);
    const big = 'x'.repeat(20_000);
    for (let i = 1; i <= 40; i++) {
      state = await step(store, state, [
        { op: 'replace', path: '/Service~1shop~1s0/spec/payload', value: `${i}${big}` },
      ]);
    }
    // 40 × 20 KB of journal would be 800 KB: compaction kept it below the threshold plus one entry.
    expect(statSync(join(dir, 'journal.jsonl'), { throwIfNoEntry: false })?.size ?? 0).toBeLessThan(300_000);
    expect(JSON.parse(readFileSync(join(dir, 'view.json'), 'utf8')).view.version).toBeGreaterThan(1);
    expect(await createFileStateStore(dir).load()).toEqual(state);
  });

  it('state - a damaged snapshot is an error, not a silent reset', async () => {
    const dir = tempDir();
    const store = createFileStateStore(dir);
    await store.save({ view: view(1, { 'Service/shop/s0': resource(0) }), streamSeq: 1 });
    const text = readFileSync(join(dir, 'view.json'), 'utf8').replace('"i":0', '"i":7');
    writeFileSync(join(dir, 'view.json'), text);
    await expect(createFileStateStore(dir).load()).rejects.toMatchObject({ code: 'hash_mismatch' });
  });

  it('state - a state file written under the v1 hash is verified with it and carried over to v2', async () => {
    const dir = tempDir();
    const resources = { 'Service/shop/s0': resource(0), 'Service/shop/s1': resource(1) };
    const v1 = sha256Hex(canonicalJson(resources));
    writeFileSync(
      join(dir, 'view.json'),
      JSON.stringify({ view: { region: 'eu-west', version: 7, hash: v1, resources }, streamSeq: 9 }),
    );
    const loaded = await createFileStateStore(dir).load();
    expect(loaded).toEqual({ view: view(7, resources), streamSeq: 9 });
    // Rewritten under v2: the next start reads it without the legacy check.
    expect(JSON.parse(readFileSync(join(dir, 'view.json'), 'utf8')).view.hash).toBe(viewHash(resources));
    // A v1 file that does not match its v1 hash is still damaged.
    writeFileSync(
      join(dir, 'view.json'),
      JSON.stringify({ view: { region: 'eu-west', version: 7, hash: v1, resources: {} }, streamSeq: 9 }),
    );
    await expect(createFileStateStore(dir).load()).rejects.toMatchObject({ code: 'hash_mismatch' });
  });
});

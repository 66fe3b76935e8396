import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnvelopeMeta } from '@fedmesh/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ChunkSpool, createChunkSpool } from './spool.js';

const meta = (index: number, count = 3, toVersion = 7): EnvelopeMeta => ({
  type: 'snapshot',
  region: 'eu-west',
  fromVersion: 0,
  toVersion,
  toHash: 'a'.repeat(64),
  codec: 'br',
  chunk: { index, count },
  rawSize: 1000,
});
const chunk = (n: number) => new Uint8Array(100).fill(n);

async function readAll(spool: ChunkSpool): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const p of spool.read()) parts.push(p);
  return Buffer.concat(parts);
}

describe('chunk spool', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-spool-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('spool - keeps chunks in order on disk and completes with the last one', async () => {
    const s = createChunkSpool(dir);
    expect(await s.open()).toBeUndefined();
    expect(await s.accept(meta(1), 10, chunk(1))).toBe('appended');
    expect(await s.accept(meta(2), 12, chunk(2))).toBe('appended');
    expect(s.progress()).toMatchObject({ chunks: 2, bytes: 200, firstSeq: 10, lastSeq: 12 });
    expect(await s.accept(meta(3), 13, chunk(3))).toBe('complete');
    expect(await readAll(s)).toEqual(Buffer.concat([chunk(1), chunk(2), chunk(3)]));
    await s.clear();
    expect(s.progress()).toBeUndefined();
  });

  it('spool - a redelivered chunk is a duplicate and a skipped one is a gap', async () => {
    const s = createChunkSpool(dir);
    await s.accept(meta(1), 10, chunk(1));
    expect(await s.accept(meta(1), 10, chunk(1))).toBe('duplicate');
    expect(await s.accept(meta(3), 13, chunk(3))).toBe('gap');
    expect(await s.accept(meta(2, 3, 8), 14, chunk(2))).toBe('gap');
    expect(s.progress()).toMatchObject({ chunks: 1, lastSeq: 10 });
  });

  it('spool - chunk 1 of another payload replaces what was spooled', async () => {
    const s = createChunkSpool(dir);
    await s.accept(meta(1), 10, chunk(1));
    await s.accept(meta(2), 11, chunk(2));
    expect(await s.accept(meta(1, 2, 9), 20, chunk(9))).toBe('appended');
    expect(s.progress()).toMatchObject({
      chunks: 1,
      bytes: 100,
      firstSeq: 20,
      meta: { toVersion: 9, count: 2 },
    });
    expect(await s.accept(meta(2, 2, 9), 21, chunk(8))).toBe('complete');
    expect(await readAll(s)).toEqual(Buffer.concat([chunk(9), chunk(8)]));
  });

  it('spool - a new process resumes after the last chunk recorded, dropping a torn write', async () => {
    const s = createChunkSpool(dir);
    await s.accept(meta(1), 10, chunk(1), { bytesPerSecond: 1000 });
    await s.accept(meta(2), 11, chunk(2));
    // A crash in the middle of writing chunk 3: bytes on disk that progress.json never recorded.
    await writeFile(join(dir, 'payload.part'), chunk(3).subarray(0, 40), { flag: 'a' });
    const again = createChunkSpool(dir);
    expect(await again.open()).toMatchObject({
      chunks: 2,
      bytes: 200,
      lastSeq: 11,
      hint: { bytesPerSecond: 1000 },
    });
    expect((await stat(join(dir, 'payload.part'))).size).toBe(200);
    expect(await again.accept(meta(3), 12, chunk(3))).toBe('complete');
    expect(await readAll(again)).toEqual(Buffer.concat([chunk(1), chunk(2), chunk(3)]));
  });

  it('spool - a damaged record or a short part file is discarded, never trusted', async () => {
    const s = createChunkSpool(dir);
    await s.accept(meta(1), 10, chunk(1));
    await writeFile(join(dir, 'payload.part'), chunk(1).subarray(0, 50));
    expect(await createChunkSpool(dir).open()).toBeUndefined();
    await s.accept(meta(1), 10, chunk(1));
    await writeFile(join(dir, 'progress.json'), '{"meta":');
    expect(await createChunkSpool(dir).open()).toBeUndefined();
    await expect(readFile(join(dir, 'progress.json'))).rejects.toThrow(/ENOENT/);
  });
});

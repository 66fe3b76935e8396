/**
 * On-disk spool for a payload that arrives in chunks (a large snapshot or delta). Each chunk is
 * written and fsynced before it is acknowledged, so the agent's memory does not grow with the
 * payload, and an agent that loses its connection, or its process, resumes at the next chunk
 * instead of fetching the whole payload again over the line.
 *
 * Two files: `payload.part`, the compressed chunks back to back, and `progress.json`, replaced
 * atomically after each chunk and the only record of what the part file validly holds.
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, readFile, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvelopeMeta } from '@fedmesh/shared';
import { writeFileDurably } from '../state/durable-file.js';
import type { RegionLink } from './line.js';

/** The identity of a chunked payload: every chunk of it carries the same. */
export type PayloadMeta = Omit<EnvelopeMeta, 'chunk'> & { count: number };

export interface SpoolProgress {
  meta: PayloadMeta;
  /** Chunks 1..chunks are on disk. */
  chunks: number;
  bytes: number;
  /** Stream sequences of chunk 1 and of the last chunk spooled: where to resume. */
  firstSeq: number;
  lastSeq: number;
  /** The Region's link as the hub announced it, for an agent that holds no view yet. */
  hint?: RegionLink;
}

/**
 * - `appended`: the chunk is on disk and may be acknowledged;
 * - `complete`: so is the last one; `read()` now yields the whole payload;
 * - `duplicate`: already spooled (a redelivery); acknowledge and move on;
 * - `gap`: not the next chunk of anything spooled; the caller replays from `progress().lastSeq`.
 */
export type SpoolOutcome = 'appended' | 'complete' | 'duplicate' | 'gap';

export interface ChunkSpool {
  /** Loads what a previous run left; a damaged spool is discarded, never trusted. */
  open(): Promise<SpoolProgress | undefined>;
  progress(): SpoolProgress | undefined;
  accept(meta: EnvelopeMeta, seq: number, data: Uint8Array, hint?: RegionLink): Promise<SpoolOutcome>;
  /** The spooled compressed payload, streamed from disk. */
  read(): AsyncIterable<Uint8Array>;
  clear(): Promise<void>;
  /** Releases the part file; what is spooled stays for the next start. */
  close(): Promise<void>;
}

const PART = 'payload.part';
const PROGRESS = 'progress.json';

export function createChunkSpool(dir: string): ChunkSpool {
  return new Spool(dir);
}

class Spool implements ChunkSpool {
  private current: SpoolProgress | undefined;
  private fh: FileHandle | undefined;

  constructor(private readonly dir: string) {}

  progress(): SpoolProgress | undefined {
    return this.current;
  }

  async open(): Promise<SpoolProgress | undefined> {
    await this.closeFile();
    this.current = undefined;
    let p: SpoolProgress;
    try {
      p = JSON.parse(await readFile(join(this.dir, PROGRESS), 'utf8')) as SpoolProgress;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') await this.clear();
      return undefined;
    }
    const size = await stat(join(this.dir, PART)).then(
      (s) => s.size,
      () => -1,
    );
    if (!isProgress(p) || size < p.bytes) {
      await this.clear();
      return undefined;
    }
    // Bytes past the record are a chunk whose write the crash interrupted: it comes again.
    if (size > p.bytes) await truncate(join(this.dir, PART), p.bytes);
    this.current = p;
    return p;
  }

  async accept(meta: EnvelopeMeta, seq: number, data: Uint8Array, hint?: RegionLink): Promise<SpoolOutcome> {
    const { index, count } = meta.chunk;
    const p = this.current;
    if (p && samePayload(p.meta, meta)) {
      if (index <= p.chunks) return 'duplicate';
      if (index !== p.chunks + 1) return 'gap';
      await this.append(p, seq, data);
      return index === count ? 'complete' : 'appended';
    }
    if (index !== 1) return 'gap';
    await this.clear();
    await mkdir(this.dir, { recursive: true });
    const { chunk: _chunk, ...rest } = meta;
    const fresh: SpoolProgress = {
      meta: { ...rest, count },
      chunks: 0,
      bytes: 0,
      firstSeq: seq,
      lastSeq: seq,
      ...(hint ? { hint } : {}),
    };
    await this.append(fresh, seq, data);
    return count === 1 ? 'complete' : 'appended';
  }

  read(): AsyncIterable<Uint8Array> {
    if (!this.current) throw new Error('nothing spooled');
    if (this.current.bytes === 0) return (async function* () {})();
    return createReadStream(join(this.dir, PART), { start: 0, end: this.current.bytes - 1 });
  }

  close(): Promise<void> {
    return this.closeFile();
  }

  async clear(): Promise<void> {
    await this.closeFile();
    this.current = undefined;
    await rm(join(this.dir, PROGRESS), { force: true });
    await rm(join(this.dir, PART), { force: true });
  }

  private async append(p: SpoolProgress, seq: number, data: Uint8Array): Promise<void> {
    this.fh ??= await open(join(this.dir, PART), p.bytes === 0 ? 'w' : 'r+');
    await this.fh.write(data, 0, data.byteLength, p.bytes);
    await this.fh.sync();
    const next: SpoolProgress = {
      ...p,
      chunks: p.chunks + 1,
      bytes: p.bytes + data.byteLength,
      lastSeq: seq,
    };
    await writeFileDurably(this.dir, PROGRESS, JSON.stringify(next));
    this.current = next;
  }

  private async closeFile(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }
}

function samePayload(a: PayloadMeta, b: EnvelopeMeta): boolean {
  return (
    a.type === b.type &&
    a.region === b.region &&
    a.fromVersion === b.fromVersion &&
    a.toVersion === b.toVersion &&
    a.toHash === b.toHash &&
    a.codec === b.codec &&
    a.rawSize === b.rawSize &&
    a.count === b.chunk.count
  );
}

function isProgress(p: unknown): p is SpoolProgress {
  const q = p as Partial<SpoolProgress> | null;
  const n = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  return (
    !!q &&
    typeof q.meta === 'object' &&
    q.meta !== null &&
    typeof q.meta.toHash === 'string' &&
    typeof q.meta.codec === 'string' &&
    n(q.meta.count) &&
    n(q.meta.toVersion) &&
    n(q.meta.rawSize) &&
    n(q.chunks) &&
    n(q.bytes) &&
    n(q.firstSeq) &&
    n(q.lastSeq) &&
    q.chunks! >= 1 &&
    q.chunks! <= q.meta.count
  );
}

import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';
import type { ViewResource } from './view.js';

// Canonical JSON of a resource object, computed once per object: resources are immutable once
// stored (a change arrives as a new object), so the cache never goes stale.
const canonCache = new WeakMap<object, string>();
function canon(r: ViewResource): string {
  let s = canonCache.get(r);
  if (s === undefined) {
    s = canonicalJson(r);
    canonCache.set(r, s);
  }
  return s;
}

/** Entries per block of the sorted rope; a change re-encodes one block, the hash reads them all. */
const BLOCK = 64;

interface Block {
  keys: string[];
  /** `"key":<canonical json>` of each entry, joined by commas, as UTF-8; rebuilt when the block changes. */
  bytes: Buffer | undefined;
}

/**
 * One region's view: a map plus its keys in sorted order, kept as a rope of small blocks whose
 * encoded bytes are cached. The view hash (sha256 over the canonical JSON of the whole map, as
 * DESIGN.md defines it) then costs one pass of SHA-256 over ready bytes, and a change re-encodes
 * only the block it falls in, instead of re-serialising the whole view.
 */
export class ViewState {
  private readonly entries = new Map<string, ViewResource>();
  private readonly blocks: Block[] = [];
  private cachedHash: string | undefined;

  get size(): number {
    return this.entries.size;
  }

  get(key: string): ViewResource | undefined {
    return this.entries.get(key);
  }

  /** Sets or removes one entry; returns the previous value. */
  set(key: string, value: ViewResource | undefined): ViewResource | undefined {
    const before = this.entries.get(key);
    if (before === value) return before;
    this.cachedHash = undefined;
    if (value === undefined) {
      this.entries.delete(key);
      this.remove(key);
      return before;
    }
    this.entries.set(key, value);
    if (before === undefined) this.insert(key);
    else this.blockOf(key).bytes = undefined;
    return before;
  }

  hash(): string {
    if (this.cachedHash === undefined) {
      const h = createHash('sha256').update('{');
      let first = true;
      for (const b of this.blocks) {
        if (b.keys.length === 0) continue;
        if (!first) h.update(',');
        first = false;
        h.update(this.encode(b));
      }
      this.cachedHash = h.update('}').digest('hex');
    }
    return this.cachedHash;
  }

  toRecord(): Record<string, ViewResource> {
    const out: Record<string, ViewResource> = {};
    for (const b of this.blocks) for (const key of b.keys) out[key] = this.entries.get(key)!;
    return out;
  }

  private encode(b: Block): Buffer {
    if (!b.bytes) {
      b.bytes = Buffer.from(
        b.keys.map((k) => `${JSON.stringify(k)}:${canon(this.entries.get(k)!)}`).join(','),
      );
    }
    return b.bytes;
  }

  /** The block `key` belongs in: the last one whose first key is <= key (UTF-16 order, like Array#sort). */
  private blockIndex(key: string): number {
    let lo = 0;
    let hi = this.blocks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.blocks[mid]!.keys[0]! <= key) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private blockOf(key: string): Block {
    return this.blocks[this.blockIndex(key)]!;
  }

  private insert(key: string): void {
    if (this.blocks.length === 0) {
      this.blocks.push({ keys: [key], bytes: undefined });
      return;
    }
    const i = this.blockIndex(key);
    const b = this.blocks[i]!;
    b.keys.splice(position(b.keys, key), 0, key);
    b.bytes = undefined;
    if (b.keys.length > 2 * BLOCK) {
      this.blocks.splice(i + 1, 0, { keys: b.keys.splice(BLOCK), bytes: undefined });
    }
  }

  private remove(key: string): void {
    const i = this.blockIndex(key);
    const b = this.blocks[i];
    if (!b) return;
    const p = position(b.keys, key);
    if (b.keys[p] !== key) return;
    b.keys.splice(p, 1);
    b.bytes = undefined;
    if (b.keys.length === 0) this.blocks.splice(i, 1);
  }
}

/** Where `key` is, or would be inserted, in sorted `keys`. */
function position(keys: string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Content equality for the small objects the scoper rebuilds (RemoteEndpoints). */
export function sameContent(a: ViewResource | undefined, b: ViewResource | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return canon(a) === canon(b);
}

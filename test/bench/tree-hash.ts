/**
 * A what-if for the hub CPU figure: a view hash defined as a Merkle tree instead of sha256 over the
 * whole view's canonical JSON. Leaf = sha256(`"key":<canonical json>`) of one entry; block =
 * sha256 over the leaf digests of up to 2×64 consecutive sorted keys; root = sha256 over the block
 * digests. A change hashes its own entry, one block of 32-byte digests and the root (32 bytes per
 * block), so its cost no longer grows with the view's bytes. Not used by fedmesh: the benchmark measures it beside the real hash
 * to put a number on the fix it proposes (it would change DESIGN.md's hash definition, and the
 * agent's verification with it).
 */
import { createHash } from 'node:crypto';
import type { RegionChanges } from '@fedmesh/hub';
import { canonicalJson, type ViewResource } from '@fedmesh/shared';

const BLOCK = 64;
const canonCache = new WeakMap<object, string>();
function canon(r: ViewResource): string {
  let s = canonCache.get(r);
  if (s === undefined) {
    s = canonicalJson(r);
    canonCache.set(r, s);
  }
  return s;
}

interface Block {
  keys: string[];
  digest: Buffer | undefined;
}

function leaf(key: string, value: ViewResource): Buffer {
  return createHash('sha256')
    .update(`${JSON.stringify(key)}:`)
    .update(canon(value))
    .digest();
}

export class TreeHash {
  private readonly entries = new Map<string, Buffer>();
  private readonly blocks: Block[] = [];
  private cached: string | undefined;

  constructor(initial: Record<string, ViewResource>) {
    const keys = Object.keys(initial).sort();
    for (const k of keys) this.entries.set(k, leaf(k, initial[k]!));
    for (let i = 0; i < keys.length; i += BLOCK)
      this.blocks.push({ keys: keys.slice(i, i + BLOCK), digest: undefined });
  }

  apply(changes: RegionChanges): void {
    for (const [key, { after }] of changes) {
      this.cached = undefined;
      const had = this.entries.has(key);
      if (after === undefined) {
        if (!had) continue;
        this.entries.delete(key);
        const i = this.blockIndex(key);
        const b = this.blocks[i]!;
        b.keys.splice(position(b.keys, key), 1);
        b.digest = undefined;
        if (b.keys.length === 0) this.blocks.splice(i, 1);
        continue;
      }
      this.entries.set(key, leaf(key, after));
      if (this.blocks.length === 0) {
        this.blocks.push({ keys: [key], digest: undefined });
        continue;
      }
      const i = this.blockIndex(key);
      const b = this.blocks[i]!;
      b.digest = undefined;
      if (!had) {
        b.keys.splice(position(b.keys, key), 0, key);
        if (b.keys.length > 2 * BLOCK)
          this.blocks.splice(i + 1, 0, { keys: b.keys.splice(BLOCK), digest: undefined });
      }
    }
  }

  root(): string {
    if (this.cached === undefined) {
      // One update over the packed digests: per-call overhead would otherwise grow with the blocks.
      const digests = Buffer.allocUnsafe(32 * this.blocks.length);
      this.blocks.forEach((b, i) => {
        if (!b.digest) {
          const bh = createHash('sha256');
          for (const k of b.keys) bh.update(this.entries.get(k)!);
          b.digest = bh.digest();
        }
        b.digest.copy(digests, 32 * i);
      });
      this.cached = createHash('sha256').update(digests).digest('hex');
    }
    return this.cached;
  }

  /** The entries, to check the mirror against the scoper's view. */
  keys(): string[] {
    return this.blocks.flatMap((b) => b.keys);
  }

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
}

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

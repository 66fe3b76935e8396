import { createHash } from 'node:crypto';
import { canonicalJson, type ViewResource } from '@fedmesh/shared';

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

/**
 * One region's view as a sorted map with a cached hash. Keeping keys sorted and each entry's
 * canonical JSON cached makes the hash a single pass over ready-made strings, instead of
 * re-serialising the whole view after every change.
 */
export class ViewState {
  private readonly entries = new Map<string, ViewResource>();
  private readonly sorted: string[] = [];
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
      this.sorted.splice(this.indexOf(key), 1);
    } else {
      if (before === undefined) this.sorted.splice(this.indexOf(key), 0, key);
      this.entries.set(key, value);
    }
    return before;
  }

  /** sha256 of the canonical JSON of the resources map, as DESIGN.md defines the view hash. */
  hash(): string {
    if (this.cachedHash === undefined) {
      const parts = new Array<string>(this.sorted.length);
      for (let i = 0; i < this.sorted.length; i++) {
        const key = this.sorted[i]!;
        parts[i] = `${JSON.stringify(key)}:${canon(this.entries.get(key)!)}`;
      }
      this.cachedHash = createHash('sha256')
        .update(`{${parts.join(',')}}`)
        .digest('hex');
    }
    return this.cachedHash;
  }

  toRecord(): Record<string, ViewResource> {
    const out: Record<string, ViewResource> = {};
    for (const key of this.sorted) out[key] = this.entries.get(key)!;
    return out;
  }

  /** Position of `key` in the sorted keys, or where it would be inserted (UTF-16 order, like Array#sort). */
  private indexOf(key: string): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.sorted[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Content equality for the small objects the scoper rebuilds (RemoteEndpoints). */
export function sameContent(a: ViewResource | undefined, b: ViewResource | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return canon(a) === canon(b);
}

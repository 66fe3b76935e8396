import { canonicalJson } from './canonical.js';
import { BUCKETS, bucketDigestOfStrings, bucketOf, compareKeys, entryDigestString, rootOf } from './hash.js';
import type { ViewResource } from './types.js';

// An entry's digest, computed once per resource object: resources are immutable once stored (a
// change arrives as a new object), so the cache never goes stale, and every region view holding
// the same object shares its one 32-byte digest instead of keeping an encoding of its own.
// Digests are latin1 strings, not Buffers: see `entryDigestString`.
//
// The digest rides on the object itself, under a symbol and not enumerable: JSON, canonical
// JSON, Object.keys, spreads and structured clones never see it, and a copy never carries it.
// It was a WeakMap: at Alibaba scale (about a million view entries) its ephemerons made every
// full GC of the hub's heap several times as long (`npx tsx test/bench/digest-gc.ts`: 1M entries,
// 585–975 ms against 221–263 ms), and the hub spent a quarter of its time in GC under sustained
// writes.
// An object that cannot take a property (frozen) keeps its digest in a WeakMap still.
const DIGEST = Symbol('fedmesh.entryDigest');
const frozenDigests = new WeakMap<object, CachedDigest>();
interface CachedDigest {
  key: string;
  digest: string;
}
function digestOf(key: string, value: ViewResource): string {
  const held = value as { [DIGEST]?: CachedDigest };
  const cached = held[DIGEST];
  if (cached?.key === key) return cached.digest;
  const frozen = frozenDigests.get(value);
  if (frozen?.key === key) return frozen.digest;
  const digest = entryDigestString(key, value);
  const entry: CachedDigest = { key, digest };
  const own = Object.hasOwn(value, DIGEST);
  if (own && !Object.isFrozen(value)) held[DIGEST] = entry;
  else if (!own && Object.isExtensible(value)) {
    Object.defineProperty(value, DIGEST, { value: entry, writable: true, enumerable: false });
  } else frozenDigests.set(value, entry);
  return digest;
}

/**
 * A bucket keeps its entries' digests beside their keys, in the same order: re-hashing a changed
 * bucket reads them as they lie. (Holding { value, digest } per entry cost about 40 MB at Alibaba
 * scale; looking every digest up in the cache instead cost 0.4 ms per change there.)
 */
interface Bucket {
  /** Keys in ascending order. */
  keys: string[];
  /** `digests[i]` is the digest of the entry at `keys[i]`. */
  digests: string[];
  /** Digest over the entries' digests; undefined once the bucket changed. */
  digest: Buffer | undefined;
}

/**
 * One region's view with its v2 hash kept incrementally: a change re-hashes its entry (once per
 * resource object, shared by every view holding it), marks its bucket, and the next `hash()`
 * re-hashes the marked buckets and the 8 KiB root input. O(1) in the size of the view.
 */
export class ViewState {
  private readonly entries = new Map<string, ViewResource>();
  private readonly buckets: Bucket[] = Array.from({ length: BUCKETS }, () => ({
    keys: [],
    digests: [],
    digest: undefined,
  }));
  private cachedHash: string | undefined;

  get size(): number {
    return this.entries.size;
  }

  get(key: string): ViewResource | undefined {
    return this.entries.get(key);
  }

  /**
   * Whether `value` is what the view holds at `key`, by content. Through the entry digests: the
   * new value's digest is needed for `set` anyway and the held one is cached, so this costs one
   * canonical encoding where comparing the two as canonical JSON cost three.
   */
  holds(key: string, value: ViewResource | undefined): boolean {
    const held = this.entries.get(key);
    if (held === undefined || value === undefined) return held === value;
    return held === value || digestOf(key, held) === digestOf(key, value);
  }

  /** Sets or removes one entry; returns the previous value. */
  set(key: string, value: ViewResource | undefined): ViewResource | undefined {
    const before = this.entries.get(key);
    if (before === value) return value;
    this.cachedHash = undefined;
    const bucket = this.buckets[bucketOf(key)]!;
    bucket.digest = undefined;
    const p = position(bucket.keys, key);
    if (value === undefined) {
      this.entries.delete(key);
      if (bucket.keys[p] === key) {
        bucket.keys.splice(p, 1);
        bucket.digests.splice(p, 1);
      }
      return before;
    }
    const digest = digestOf(key, value);
    this.entries.set(key, value);
    if (before === undefined) {
      bucket.keys.splice(p, 0, key);
      bucket.digests.splice(p, 0, digest);
    } else bucket.digests[p] = digest;
    return before;
  }

  hash(): string {
    if (this.cachedHash === undefined) {
      const digests = this.buckets.map((b) => {
        b.digest ??= bucketDigestOfStrings(b.digests);
        return b.digest;
      });
      this.cachedHash = rootOf(digests);
    }
    return this.cachedHash;
  }

  /** The entries as a plain map, keys in ascending order. */
  toRecord(): Record<string, ViewResource> {
    const out: Record<string, ViewResource> = {};
    for (const key of [...this.entries.keys()].sort(compareKeys)) out[key] = this.entries.get(key)!;
    return out;
  }
}

/** Where `key` is, or would be inserted, in ascending `keys`. */
function position(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Content equality for the small objects the scoper rebuilds (RemoteEndpoints). */
export function sameContent(a: ViewResource | undefined, b: ViewResource | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return canonicalJson(a) === canonicalJson(b);
}

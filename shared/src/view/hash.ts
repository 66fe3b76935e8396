import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical.js';

/**
 * The view hash, v2 (DESIGN.md, "View hash (v2)"): a Merkle root over 256 buckets.
 *  - entry digest  e = SHA-256(key ‖ 0x00 ‖ JCS(value))
 *  - bucket        b = first byte of SHA-256(key)
 *  - bucket digest   = SHA-256(digests of its entries, concatenated in ascending key order)
 *                      (an empty bucket: SHA-256 of nothing)
 *  - view hash       = hex(SHA-256("fedmesh-view-v2\n" ‖ B0 ‖ … ‖ B255))
 * A change re-hashes one entry, one bucket and the 8 KiB root input, whatever the view's size
 * (`ViewState` keeps that incremental form; this file is the from-scratch definition both
 * sides and the golden vectors in docs/protocol.md are checked against).
 */
export const VIEW_HASH_PREFIX = 'fedmesh-view-v2\n';
export const BUCKETS = 256;

const NUL = Buffer.from([0]);
/** SHA-256 of nothing: the digest of an empty bucket. */
export const EMPTY_BUCKET_DIGEST: Buffer = createHash('sha256').digest();

/** The bucket (0–255) a view key falls in. */
export function bucketOf(key: string): number {
  return createHash('sha256').update(key).digest()[0]!;
}

/** The digest of one entry from its key and the JCS text of its value. */
export function entryDigestOfJson(key: string, json: string): Buffer {
  return createHash('sha256').update(key).update(NUL).update(json).digest();
}

export function entryDigest(key: string, value: unknown): Buffer {
  return entryDigestOfJson(key, canonicalJson(value));
}

/**
 * The same digest as a 32-character latin1 string: what `ViewState` keeps per entry. A Buffer
 * costs about 220 bytes of heap for its 32 (object, ArrayBuffer, backing store); a one-byte
 * string about 48, and a million entries is a hub's whole view set at Alibaba scale.
 */
export function entryDigestString(key: string, value: unknown): string {
  return createHash('sha256').update(key).update(NUL).update(canonicalJson(value)).digest('binary'); // latin1
}

/** `bucketDigest` of entry digests kept as latin1 strings. */
export function bucketDigestOfStrings(entryDigests: readonly string[]): Buffer {
  if (entryDigests.length === 0) return EMPTY_BUCKET_DIGEST;
  // One update of the concatenated digests, not one per entry (9 % of the hub's CPU at 231k).
  return createHash('sha256').update(entryDigests.join(''), 'latin1').digest();
}

/** The root from the 256 bucket digests (in bucket order). */
export function rootOf(bucketDigests: readonly Uint8Array[]): string {
  // One update of the whole 8 KiB input: an update per bucket was 256 calls into the binding.
  return createHash('sha256').update(VIEW_HASH_PREFIX).update(Buffer.concat(bucketDigests)).digest('hex');
}

/** The digest of a bucket from its entries' digests, already in ascending key order. */
export function bucketDigest(entryDigests: readonly Uint8Array[]): Buffer {
  if (entryDigests.length === 0) return EMPTY_BUCKET_DIGEST;
  const h = createHash('sha256');
  for (const d of entryDigests) h.update(d);
  return h.digest();
}

/** The v2 hash of a `resources` map, computed from scratch. */
export function viewHash(resources: Readonly<Record<string, unknown>>): string {
  const buckets: { key: string; digest: Buffer }[][] = Array.from({ length: BUCKETS }, () => []);
  for (const key of Object.keys(resources).sort(compareKeys)) {
    const value = resources[key];
    if (value === undefined) continue;
    buckets[bucketOf(key)]!.push({ key, digest: entryDigest(key, value) });
  }
  return rootOf(buckets.map((b) => bucketDigest(b.map((e) => e.digest))));
}

/**
 * Ascending key order. DESIGN.md says byte order; view keys are ASCII, where byte order and the
 * UTF-16 order of `<` agree, and keys outside ASCII are compared by their UTF-8 bytes here too.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  // Up to the first code unit that differs, then that unit decides: UTF-16 code units order as
  // UTF-8 bytes do, except a surrogate (a code point from U+10000 on, four UTF-8 bytes) against a
  // unit from U+E000 to U+FFFF, which UTF-16 puts first and UTF-8 last. No scan of whole keys
  // (a regex test of both was most of the cost of sorting a view).
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length < b.length ? -1 : 1;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  if (x >= 0xd800 && y >= 0xd800 && isSurrogate(x) !== isSurrogate(y)) return isSurrogate(x) ? 1 : -1;
  return x < y ? -1 : 1;
}

function isSurrogate(unit: number): boolean {
  return unit >= 0xd800 && unit <= 0xdfff;
}

import { createHash } from 'node:crypto';

/**
 * Canonical JSON as RFC 8785 (JCS) defines it for the values a view holds: object members
 * sorted by the UTF-16 code units of their names, no whitespace, strings and numbers written
 * as ECMAScript's JSON.stringify writes them (which is how JCS specifies them), `undefined`
 * members dropped. Two equal values always give byte-identical text, in any language that
 * implements JCS; that is what makes view hashes comparable between the hub and every agent.
 */
export function canonicalJson(value: unknown): string {
  // A value whose members are already in canonical order at every level is written by the
  // engine's own JSON.stringify, which then gives the same text at native speed. The hub holds
  // its resources that way (`canonicalOrder`): canonical JSON was 17 % of its CPU under a stream
  // of writes, building the text out of small strings.
  if (inCanonicalOrder(value, 0)) return JSON.stringify(value);
  return serialize(value) ?? 'null';
}

/**
 * The same value with the members of every object in canonical order (`undefined` members
 * dropped): its canonical JSON is then its JSON.stringify, unless it has integer-like member
 * names (objects enumerate those first; canonicalJson then takes its general path, still right).
 * Values with a `toJSON`, and anything that is not plain JSON data, are returned as they are.
 */
export function canonicalOrder<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(canonicalOrder) as T;
  const obj = value as Record<string, unknown>;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(obj).sort()) {
    const v = obj[key];
    if (v !== undefined) out[key] = canonicalOrder(v);
  }
  return out as T;
}

/** True when `value` is already as `canonicalOrder` would make it (then no copy is needed). */
export function isInCanonicalOrder(value: unknown): boolean {
  return inCanonicalOrder(value, 0);
}

/** Depth beyond which the fast path is not tried (JSON.stringify and serialize both recurse). */
const MAX_FAST_DEPTH = 64;

/**
 * True when JSON.stringify writes `value` exactly as `serialize` does: plain JSON data (finite
 * numbers, no toJSON, nothing JSON.stringify would drop or turn into null but an undefined
 * member), every object's members in ascending UTF-16 order, as `sort()` orders them. Integer
 * names, which objects enumerate first, fail the order check unless their order agrees.
 */
function inCanonicalOrder(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth > MAX_FAST_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (!inCanonicalOrder(v, depth + 1)) return false;
    return true;
  }
  const obj = value as Record<string, unknown>;
  if ('toJSON' in obj) return false;
  const proto = Object.getPrototypeOf(obj);
  if (proto !== Object.prototype && proto !== null) return false;
  let previous: string | undefined;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) return false;
    if (previous !== undefined && !(previous < key)) return false;
    previous = key;
    const v = obj[key];
    if (v !== undefined && !inCanonicalOrder(v, depth + 1)) return false;
  }
  return true;
}

function serialize(value: unknown): string | undefined {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonical JSON cannot hold ${value}`);
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'bigint':
      throw new TypeError('canonical JSON cannot hold a bigint');
  }
  if (Array.isArray(value)) {
    return `[${value.map((v) => serialize(v) ?? 'null').join(',')}]`;
  }
  const obj = value as Record<string, unknown>;
  if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
    return serialize((obj as { toJSON: () => unknown }).toJSON());
  }
  const parts: string[] = [];
  for (const key of Object.keys(obj).sort()) {
    const v = serialize(obj[key]);
    if (v !== undefined) parts.push(`${JSON.stringify(key)}:${v}`);
  }
  return `{${parts.join(',')}}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

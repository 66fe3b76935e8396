import { createHash } from 'node:crypto';

/**
 * Canonical JSON as RFC 8785 (JCS) defines it for the values a view holds: object members
 * sorted by the UTF-16 code units of their names, no whitespace, strings and numbers written
 * as ECMAScript's JSON.stringify writes them (which is how JCS specifies them), `undefined`
 * members dropped. Two equal values always give byte-identical text, in any language that
 * implements JCS; that is what makes view hashes comparable between the hub and every agent.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value) ?? 'null';
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

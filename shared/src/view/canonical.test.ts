import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalOrder } from './canonical.js';

/** A small seeded generator of JSON-like values, with members in random order. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const NAMES = [
  'a',
  'b',
  'z',
  'A',
  'é',
  '€',
  '10',
  '2',
  '0',
  'name',
  'namespace',
  '\u{1f600}',
  'ab',
  'a b',
  '',
];

function value(r: () => number, depth: number): unknown {
  const pick = r();
  if (depth > 3 || pick < 0.3) {
    const leaf = Math.floor(r() * 7);
    return [null, true, false, -0, 1e21, 0.1 + 0.2, 'x\u2028"\\\n\u0001é'][leaf];
  }
  if (pick < 0.5) return Array.from({ length: Math.floor(r() * 4) }, () => value(r, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(r() * 6); i++) {
    const name = NAMES[Math.floor(r() * NAMES.length)]!;
    out[name] = r() < 0.1 ? undefined : value(r, depth + 1);
  }
  return out;
}

/** RFC 8785 written out the slow, obvious way, to hold both paths of canonicalJson against. */
function reference(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(o[k])}`).join(',')}}`;
}

describe('canonical JSON', () => {
  it('canonical - the fast path (members in canonical order) and the general one write the same text', () => {
    const r = rng(8785);
    let fast = 0;
    for (let i = 0; i < 2000; i++) {
      const v = value(r, 0);
      const ordered = canonicalOrder(v);
      const expected = reference(v);
      expect(canonicalJson(v)).toBe(expected);
      expect(canonicalJson(ordered)).toBe(expected);
      // What canonicalOrder produces JSON.stringify writes canonically, unless integer-like names
      // (which objects enumerate first) are out of string order: those take the general path.
      if (!/"\d+":/.test(expected)) expect(JSON.stringify(ordered)).toBe(expected);
      if (JSON.stringify(v) === expected) fast++;
    }
    // Both paths were taken: some values came in canonical order by chance, most did not.
    expect(fast).toBeGreaterThan(100);
    expect(fast).toBeLessThan(2000);
  });

  it('canonical - integer-like names, which objects enumerate first, are still ordered as strings', () => {
    const v = { b: 1, 10: 'ten', 2: 'two', a: [{ z: 1, y: 2 }] };
    expect(canonicalJson(v)).toBe('{"10":"ten","2":"two","a":[{"y":2,"z":1}],"b":1}');
    expect(canonicalJson(canonicalOrder(v))).toBe(canonicalJson(v));
  });

  it('canonical - what JSON cannot hold is refused on either path', () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(/cannot hold/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    expect(canonicalJson({ a: undefined, b: () => 1 })).toBe('{}');
    expect(canonicalJson({ toJSON: () => ({ b: 1, a: 2 }) })).toBe('{"a":2,"b":1}');
  });
});

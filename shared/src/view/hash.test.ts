import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bucketOf, compareKeys, entryDigest, viewHash } from './hash.js';
import { ViewState } from './state.js';

/** DESIGN.md's golden vectors for the v2 view hash (also in docs/protocol.md). */
const GOLDEN = {
  empty: '7c25bd42338cf3f33d4c2d7bb386231b4289750b572eb62e27ea77640552a58e',
  two: '19dc1a8c5061846149aefd3762af623d76100d148401a40b6a7b56bc0ef02f44',
};
const TWO = {
  'Region/_/eu-west': {
    kind: 'Region',
    metadata: { name: 'eu-west', namespace: '_' },
    spec: { gateway: { address: '198.51.100.1', port: 15443 } },
  },
  'Service/shop/payments': {
    kind: 'Service',
    metadata: { name: 'payments', namespace: 'shop' },
    spec: { ports: [{ name: 'grpc', port: 8443, protocol: 'grpc' }] },
  },
};

describe('view hash v2', () => {
  it('view hash - the empty view gives the golden hash', () => {
    expect(viewHash({})).toBe(GOLDEN.empty);
    expect(new ViewState().hash()).toBe(GOLDEN.empty);
  });

  it('view hash - the two-entry golden view gives the golden hash, from scratch and incrementally', () => {
    expect(viewHash(TWO)).toBe(GOLDEN.two);
    const state = new ViewState();
    // Inserted in the other order, with a detour: the incremental form must not care.
    state.set('Service/shop/payments', TWO['Service/shop/payments'] as never);
    state.set('Service/shop/extra', TWO['Service/shop/payments'] as never);
    state.set('Region/_/eu-west', TWO['Region/_/eu-west'] as never);
    state.set('Service/shop/extra', undefined);
    expect(state.hash()).toBe(GOLDEN.two);
  });

  it('view hash - member order inside a value does not matter (JCS), and the key is part of the entry', () => {
    const reordered = {
      'Region/_/eu-west': {
        spec: { gateway: { port: 15443, address: '198.51.100.1' } },
        metadata: { namespace: '_', name: 'eu-west' },
        kind: 'Region',
      },
      'Service/shop/payments': TWO['Service/shop/payments'],
    };
    expect(viewHash(reordered)).toBe(GOLDEN.two);
    const value = TWO['Region/_/eu-west'];
    expect(entryDigest('Region/_/eu-west', value).equals(entryDigest('Region/_/eu-west2', value))).toBe(
      false,
    );
  });

  it('view hash - the definition, spelled out with nothing but SHA-256, agrees', () => {
    const sha = (...parts: (string | Buffer)[]) => {
      const h = createHash('sha256');
      for (const p of parts) h.update(p);
      return h.digest();
    };
    const buckets: Buffer[][] = Array.from({ length: 256 }, () => []);
    const jcs: Record<string, string> = {
      'Region/_/eu-west':
        '{"kind":"Region","metadata":{"name":"eu-west","namespace":"_"},"spec":{"gateway":{"address":"198.51.100.1","port":15443}}}',
      'Service/shop/payments':
        '{"kind":"Service","metadata":{"name":"payments","namespace":"shop"},"spec":{"ports":[{"name":"grpc","port":8443,"protocol":"grpc"}]}}',
    };
    for (const k of Object.keys(jcs).sort()) {
      expect(bucketOf(k)).toBe(sha(k)[0]);
      buckets[sha(k)[0]!]!.push(sha(k, Buffer.from([0]), jcs[k]!));
    }
    const root = sha('fedmesh-view-v2\n', ...buckets.map((b) => sha(...b))).toString('hex');
    expect(root).toBe(GOLDEN.two);
  });
});

describe('key order', () => {
  it('hash - compareKeys orders keys as their UTF-8 bytes, surrogate pairs and U+E000..U+FFFF included', () => {
    const units = [
      'a',
      'b',
      '/',
      'é',
      '\u0800',
      '\ud7ff',
      '\ue000',
      '\uffee',
      '\u{10000}',
      '\u{1f600}',
      '-',
      'Z',
    ];
    let s = 7;
    const pick = () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return units[s % units.length]!;
    };
    const keys = Array.from({ length: 400 }, () => {
      let k = 'ServiceEndpoints/';
      for (let i = 0, n = 1 + (s % 5); i < n; i++) k += pick();
      return k;
    });
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(compareKeys)).toEqual(byBytes);
    expect(compareKeys('a', 'a')).toBe(0);
    expect(compareKeys('ab', 'a')).toBe(1);
    expect(compareKeys('\u{10000}', '\uffff')).toBe(1); // UTF-16 alone would put it first
  });
});

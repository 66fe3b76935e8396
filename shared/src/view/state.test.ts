import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { viewHash } from './hash.js';
import { ViewState } from './state.js';
import type { ViewResource } from './types.js';

const res = (n: number): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'Service',
  metadata: { name: `s${n}` },
  spec: { n },
});

describe('ViewState', () => {
  it('view state - the digest kept on an entry is invisible to JSON, keys, spreads and clones', () => {
    const value = res(1);
    const state = new ViewState();
    state.set('a', value);
    expect(JSON.stringify(value)).toBe(JSON.stringify(res(1)));
    expect(Object.keys(value)).toEqual(Object.keys(res(1)));
    expect({ ...value }).toEqual(res(1));
    expect(Object.getOwnPropertySymbols({ ...value })).toEqual([]);
    expect(structuredClone(value)).toEqual(res(1));
  });

  it('view state - one object under two keys, and frozen objects, hash as the v2 hash says', () => {
    const shared = res(2);
    const frozen = Object.freeze(res(3));
    const state = new ViewState();
    state.set('a', shared);
    state.set('b', shared); // same object, another key: its digest differs (the key is hashed in)
    state.set('c', frozen);
    state.set('d', frozen);
    expect(state.hash()).toBe(viewHash({ a: res(2), b: res(2), c: res(3), d: res(3) }));
    // Held again under its first key after the second: still the right digest.
    const again = new ViewState();
    again.set('b', shared);
    again.set('a', shared);
    expect(again.hash()).toBe(viewHash({ a: res(2), b: res(2) }));
  });

  it('view state - its incremental hash always equals the v2 hash computed from scratch', () => {
    fc.assert(
      fc.property(
        // Prefixed: view keys are never integer-like, which JS objects would list first.
        fc.array(
          fc.tuple(
            fc.string({ maxLength: 6 }).map((s) => `k${s}`),
            fc.option(fc.nat(5), { nil: undefined }),
          ),
          { maxLength: 400 },
        ),
        (ops) => {
          const state = new ViewState();
          const plain: Record<string, ViewResource> = {};
          for (const [key, n] of ops) {
            state.set(key, n === undefined ? undefined : res(n));
            if (n === undefined) delete plain[key];
            else plain[key] = res(n);
          }
          expect(state.hash()).toBe(viewHash(plain));
          expect(Object.keys(state.toRecord())).toEqual(Object.keys(plain).sort());
          expect(state.size).toBe(Object.keys(plain).length);
        },
      ),
      { numRuns: 200 },
    );
  });
});

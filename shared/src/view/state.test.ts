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

import { emptyView, type RegionView } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { CATCH_UP_SERVE_MS, createServeThrottle } from './serve.js';
import { fakeClock } from './testing.js';

const at = (version: number): RegionView => ({ ...emptyView('eu-west'), version });

describe('serve throttle', () => {
  it('serve - while catching up, proxies get the newest view at most every couple of seconds', () => {
    const clock = fakeClock();
    const served: number[] = [];
    const t = createServeThrottle(clock, (v) => void served.push(v.version));
    t.served();
    t.serve(at(1), false);
    clock.advance(CATCH_UP_SERVE_MS - 1);
    t.serve(at(2), false);
    expect(served).toEqual([]);
    clock.advance(1);
    t.serve(at(3), false);
    expect(served).toEqual([3]);
    t.serve(at(4), false);
    expect(served).toEqual([3]);
    // Caught up (or about to wait for the budget): whatever is verified goes out at once.
    t.serve(undefined, true);
    expect(served).toEqual([3, 4]);
    t.serve(undefined, true);
    expect(served).toEqual([3, 4]);
  });

  it('serve - a slow hand-over stretches the catch-up interval to four times its length', () => {
    const clock = fakeClock();
    const served: number[] = [];
    const t = createServeThrottle(clock, (v) => {
      served.push(v.version);
      clock.advance(1_000); // the xDS translation
    });
    t.serve(at(1), true);
    clock.advance(3_000);
    t.serve(at(2), false);
    expect(served).toEqual([1]);
    clock.advance(1_000);
    t.serve(at(3), false);
    expect(served).toEqual([1, 3]);
  });
});

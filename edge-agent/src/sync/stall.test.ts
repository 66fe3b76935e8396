import { describe, expect, it } from 'vitest';
import { createStallWatch } from './stall.js';
import { fakeClock } from './testing.js';

describe('stall watch', () => {
  it('stall - the chain announced ahead and an open pull that brings nothing for the stall time ends the pull, once', () => {
    const clock = fakeClock();
    const watch = createStallWatch(clock, 3_000);
    const open = { held: 10, pullOpen: true, lineBytes: 0 };
    expect(watch.check(open)).toBe(false); // nothing announced
    watch.announced(12, 0);
    clock.advance(2_000);
    expect(watch.check({ ...open, lineBytes: 300 })).toBe(false); // heartbeats, not yet the stall time
    clock.advance(1_500);
    expect(watch.check({ ...open, lineBytes: 400 })).toBe(true);
    expect(watch.check({ ...open, lineBytes: 400 })).toBe(false);
  });

  it('stall - delivery, a pull waiting for the budget, bytes arriving or the chain reaching the version are no stall', () => {
    const clock = fakeClock();
    const watch = createStallWatch(clock, 3_000);
    watch.announced(12, 0);
    clock.advance(2_500);
    watch.delivered(1_000); // a message came: the clock starts again
    clock.advance(2_500);
    expect(watch.check({ held: 11, pullOpen: true, lineBytes: 1_000 })).toBe(false);
    clock.advance(2_500);
    expect(watch.check({ held: 11, pullOpen: false, lineBytes: 1_000 })).toBe(false); // waiting for budget
    clock.advance(2_500);
    expect(watch.check({ held: 11, pullOpen: true, lineBytes: 9_000 })).toBe(false); // a big chunk arriving
    clock.advance(2_500);
    expect(watch.check({ held: 12, pullOpen: true, lineBytes: 9_000 })).toBe(false); // there
    clock.advance(5_000);
    expect(watch.check({ held: 12, pullOpen: true, lineBytes: 9_000 })).toBe(false);
  });
});

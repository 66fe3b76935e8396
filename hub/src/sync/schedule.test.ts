import { describe, expect, it } from 'vitest';
import {
  type Clock,
  createPublishSchedule,
  type PublishCause,
  type PublishScheduleOptions,
} from './schedule.js';

/** Time that moves only when told, running due timers in order. */
function fakeClock(): Clock & { advance(ms: number): void; pending(): number } {
  let now = 1_000_000;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers]
          .filter(([, t]) => t.at <= until)
          .sort(([a, x], [b, y]) => x.at - y.at || a - b)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}

function setUp(opts: Partial<PublishScheduleOptions> = {}) {
  const clock = fakeClock();
  const start = clock.now();
  const fired: { at: number; cause: PublishCause }[] = [];
  const schedule = createPublishSchedule(
    { debounceMs: 100, maxWaitMs: 1000, retryMs: 2000, clock, ...opts },
    (cause) => fired.push({ at: clock.now() - start, cause }),
  );
  return { clock, schedule, fired, at: () => clock.now() - start };
}

describe('publish schedule', () => {
  it('schedule - a lone change is published at once', () => {
    const { clock, schedule, fired } = setUp();
    schedule.changed();
    expect(fired).toEqual([{ at: 0, cause: 'change' }]);
    clock.advance(5_000);
    expect(fired).toHaveLength(1);
  });

  it('schedule - changes apart by at least the debounce are each published at once', () => {
    const { clock, schedule, fired } = setUp();
    schedule.changed();
    clock.advance(100);
    schedule.changed();
    clock.advance(250);
    schedule.changed();
    clock.advance(5_000);
    expect(fired.map((f) => f.at)).toEqual([0, 100, 350]);
  });

  it('schedule - a burst is published once at its start and once after the quiet period that ends it', () => {
    const { clock, schedule, fired } = setUp();
    for (let i = 0; i < 5; i++) {
      schedule.changed();
      clock.advance(20);
    }
    // Last change at 80: the trailing publication follows a debounce later.
    clock.advance(5_000);
    expect(fired.map((f) => f.at)).toEqual([0, 180]);
  });

  it('schedule - a burst that does not stop is published no later than maxWait after its first held change', () => {
    const { clock, schedule, fired, at } = setUp();
    const changes: number[] = [];
    while (at() < 2_500) {
      changes.push(at());
      schedule.changed();
      clock.advance(50);
    }
    clock.advance(5_000);
    // 0: the leading edge. 50: the first held change, published by 1050 at the latest; the
    // change at 1050 starts the next window; the last change (2450) waits out the quiet period.
    expect(fired.map((f) => f.at)).toEqual([0, 1050, 2050, 2550]);
    for (const c of changes) {
      const publishedAt = fired.find((f) => f.at >= c)!.at;
      expect(publishedAt - c).toBeLessThanOrEqual(1000);
    }
  });

  it('schedule - a flush drops the held changes’ timer', () => {
    const { clock, schedule, fired } = setUp();
    schedule.changed();
    clock.advance(10);
    schedule.changed();
    schedule.flushed();
    clock.advance(5_000);
    expect(fired.map((f) => f.at)).toEqual([0]);
    expect(clock.pending()).toBe(0);
  });

  it('schedule - a failed publication is retried after retryMs', () => {
    const { clock, schedule, fired } = setUp();
    schedule.failed();
    clock.advance(1_999);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual([{ at: 2_000, cause: 'retry' }]);
  });

  it('schedule - failures while a retry is waiting share that retry', () => {
    const { clock, schedule, fired } = setUp();
    schedule.failed();
    clock.advance(500);
    schedule.failed();
    clock.advance(10_000);
    expect(fired).toEqual([{ at: 2_000, cause: 'retry' }]);
    schedule.failed();
    clock.advance(2_000);
    expect(fired.map((f) => f.at)).toEqual([2_000, 12_500]);
  });

  it('schedule - nothing fires after stop', () => {
    const { clock, schedule, fired } = setUp();
    schedule.changed();
    clock.advance(10);
    schedule.changed();
    schedule.failed();
    schedule.stop();
    schedule.changed();
    schedule.failed();
    clock.advance(10_000);
    expect(fired.map((f) => f.at)).toEqual([0]);
    expect(clock.pending()).toBe(0);
  });
});

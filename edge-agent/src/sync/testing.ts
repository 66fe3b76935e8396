import type { Clock } from './pacer.js';

/** For unit tests: a clock that only moves when told to or when a sleeper asks it to, so waits cost no wall time. */
export function fakeClock(): Clock & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    advance(ms) {
      now += ms;
    },
    async sleep(ms, signal) {
      if (!signal?.aborted) now += ms;
    },
  };
}

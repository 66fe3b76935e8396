/** Time as the schedule sees it; injected so tests can move it by hand. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface PublishScheduleOptions {
  /** Quiet time that ends a burst, and that must pass before a change counts as the first of one. */
  debounceMs: number;
  /** Longest a change may wait under a continuous burst. */
  maxWaitMs: number;
  /** Delay before retrying a publication that failed. */
  retryMs: number;
  clock?: Clock;
}

/** Why a publication was asked for. */
export type PublishCause = 'change' | 'retry';

/** When to publish: the debounce, its max wait and the retry after a failure, nothing else. */
export interface PublishSchedule {
  /** A config change arrived. */
  changed(): void;
  /** Everything pending was just published another way (a flush): the trailing timer has nothing left to do. */
  flushed(): void;
  /** A publication failed; one retry is pending at a time, however many regions failed. */
  failed(): void;
  stop(): void;
}

/**
 * Leading-edge debounce. A change after a quiet period is published at once: a lone edit by an
 * operator should not wait for company that is not coming. Changes that follow it within
 * `debounceMs` are a burst and wait for the burst to end, so that it becomes one delta per
 * region rather than one per write, but never longer than `maxWaitMs` from the first of them.
 */
export function createPublishSchedule(
  opts: PublishScheduleOptions,
  fire: (cause: PublishCause) => void,
): PublishSchedule {
  return new Schedule(opts, opts.clock ?? systemClock, fire);
}

class Schedule implements PublishSchedule {
  private lastChangeAt: number | undefined;
  /** The first change the trailing timer is holding back. */
  private firstPendingAt: number | undefined;
  private timer: unknown;
  private retryTimer: unknown;
  private stopped = false;

  constructor(
    private readonly opts: PublishScheduleOptions,
    private readonly clock: Clock,
    private readonly fire: (cause: PublishCause) => void,
  ) {}

  changed(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    const quiet = this.lastChangeAt === undefined || now - this.lastChangeAt >= this.opts.debounceMs;
    this.lastChangeAt = now;
    if (quiet) {
      // A late trailing timer may still be holding changes: this publication takes them too.
      this.flushed();
      this.fire('change');
      return;
    }
    this.firstPendingAt ??= now;
    const wait = Math.min(this.opts.debounceMs, this.firstPendingAt + this.opts.maxWaitMs - now);
    this.cancelTimer();
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.firstPendingAt = undefined;
        this.fire('change');
      },
      Math.max(0, wait),
    );
  }

  flushed(): void {
    this.cancelTimer();
    this.firstPendingAt = undefined;
  }

  failed(): void {
    if (this.stopped || this.retryTimer !== undefined) return;
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.fire('retry');
    }, this.opts.retryMs);
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer();
    if (this.retryTimer !== undefined) this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

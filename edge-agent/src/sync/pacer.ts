/**
 * Pacing of the sync downlink: a token bucket over the bytes the agent receives, and a meter of
 * what actually came in. Both take their time from a `Clock`, so they are tested without sleeping.
 */

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** A byte budget: sustained rate, and how much may arrive at once after a quiet spell. */
export interface LineBudget {
  bytesPerSecond: number;
  burstBytes: number;
}

export interface TokenBucket {
  /** The budget in force; undefined means the line is not metered. */
  budget(): LineBudget | undefined;
  /** Changes the budget; waiters re-evaluate at once. Tokens above the new burst are dropped. */
  setBudget(budget: LineBudget | undefined): void;
  /** Tokens now; negative while the bucket pays off bytes it could not refuse (a debt). */
  available(): number;
  /** Spends `bytes` tokens, going into debt when there are not enough. */
  take(bytes: number): void;
  /** Gives back tokens taken ahead of use and not used, up to a full bucket. */
  refund(bytes: number): void;
  /**
   * Resolves once `bytes` tokens (at most a full bucket) are available, at once when the line is
   * not metered, or early when `signal` aborts. Returns the milliseconds spent waiting.
   */
  waitFor(bytes: number, signal?: AbortSignal): Promise<number>;
}

export function createTokenBucket(initial: LineBudget | undefined, clock: Clock = systemClock): TokenBucket {
  let current = initial;
  // A new bucket starts full: an agent that was idle may take a burst, which is what burst means.
  let tokens = initial?.burstBytes ?? 0;
  let last = clock.now();
  let wake = new AbortController();

  const refill = () => {
    const now = clock.now();
    if (current)
      tokens = Math.min(current.burstBytes, tokens + ((now - last) / 1000) * current.bytesPerSecond);
    last = now;
  };

  return {
    budget: () => current,
    setBudget(budget) {
      refill();
      const was = current;
      current = budget;
      if (budget) tokens = was ? Math.min(tokens, budget.burstBytes) : budget.burstBytes;
      wake.abort();
      wake = new AbortController();
    },
    available() {
      refill();
      return current ? tokens : Number.POSITIVE_INFINITY;
    },
    take(bytes) {
      refill();
      if (current) tokens -= bytes;
    },
    refund(bytes) {
      refill();
      if (current) tokens = Math.min(current.burstBytes, tokens + bytes);
    },
    async waitFor(bytes, signal) {
      const started = clock.now();
      for (;;) {
        if (signal?.aborted) break;
        refill();
        if (!current) break;
        const want = Math.min(bytes, current.burstBytes);
        if (tokens >= want) break;
        const ms = Math.ceil(((want - tokens) / current.bytesPerSecond) * 1000);
        await clock.sleep(ms, anySignal(signal, wake.signal));
      }
      return clock.now() - started;
    },
  };
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a ? AbortSignal.any([a, b]) : b;
}

/**
 * Bytes per second over a sliding window, kept in fixed slots so its memory does not depend on
 * the traffic. Also keeps the busiest window seen, which is what a budget is judged by.
 */
export interface RateMeter {
  add(bytes: number): void;
  /** Bytes per second over the last window. */
  rate(): number;
  total(): number;
}

export function createRateMeter(windowMs = 5_000, slots = 10, clock: Clock = systemClock): RateMeter {
  const slotMs = windowMs / slots;
  const counts = new Array<number>(slots).fill(0);
  let head = Math.floor(clock.now() / slotMs);
  let total = 0;
  const advance = () => {
    const now = Math.floor(clock.now() / slotMs);
    for (let s = Math.max(head + 1, now - slots + 1); s <= now; s++) counts[s % slots] = 0;
    head = Math.max(head, now);
  };
  return {
    add(bytes) {
      advance();
      counts[head % slots]! += bytes;
      total += bytes;
    },
    rate() {
      advance();
      return (counts.reduce((a, b) => a + b, 0) / windowMs) * 1000;
    },
    total: () => total,
  };
}

/** Judging a byte counter against a budget, window by window. */

export interface Sample {
  /** Milliseconds (any origin, monotonic). */
  t: number;
  /** A cumulative byte counter. */
  bytes: number;
}

export interface Window {
  from: number;
  ms: number;
  bytes: number;
  /** Bytes per second over the window. */
  rate: number;
}

/**
 * Every window of at least `windowMs` that starts at a sample and ends at the first sample
 * `windowMs` later, between `from` and `to`.
 */
export function windows(
  samples: readonly Sample[],
  windowMs: number,
  from = -Infinity,
  to = Infinity,
): Window[] {
  const inside = samples.filter((s) => s.t >= from && s.t <= to);
  const out: Window[] = [];
  let j = 0;
  for (let i = 0; i < inside.length; i++) {
    const a = inside[i]!;
    j = Math.max(j, i + 1);
    while (j < inside.length && inside[j]!.t < a.t + windowMs) j++;
    if (j >= inside.length) break;
    const b = inside[j]!;
    const ms = b.t - a.t;
    out.push({ from: a.t, ms, bytes: b.bytes - a.bytes, rate: ((b.bytes - a.bytes) / ms) * 1000 });
  }
  return out;
}

export interface Utilization {
  windows: number;
  /** Largest and mean rate over the budget. */
  max: number;
  mean: number;
  /** The window with the most bytes, and how it compares with the allowance. */
  worst: Window | undefined;
}

export function utilization(ws: readonly Window[], bytesPerSecond: number): Utilization {
  if (ws.length === 0) return { windows: 0, max: 0, mean: 0, worst: undefined };
  const worst = ws.reduce((a, b) => (b.rate > a.rate ? b : a));
  return {
    windows: ws.length,
    max: worst.rate / bytesPerSecond,
    mean: ws.reduce((n, w) => n + w.rate, 0) / ws.length / bytesPerSecond,
    worst,
  };
}

/** What a token bucket may let through in `ms`: the burst plus the budget for the span, plus `slack`. */
export function allowance(ms: number, bytesPerSecond: number, burstBytes: number, slack: number): number {
  return (burstBytes + (bytesPerSecond * ms) / 1000) * (1 + slack);
}

/** Windows whose bytes exceed the allowance. */
export function overBudget(
  ws: readonly Window[],
  bytesPerSecond: number,
  burstBytes: number,
  slack: number,
): Window[] {
  return ws.filter((w) => w.bytes > allowance(w.ms, bytesPerSecond, burstBytes, slack));
}

export const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
export const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

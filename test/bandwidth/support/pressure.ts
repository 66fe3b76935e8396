/** What the pressure benchmarks (loopback and shaped line) measure alike. */
import type { XdsClientProcess } from '../../xds/support.js';

/**
 * Milliseconds from `since` until a batch of calls to `target` no longer reaches `removed`,
 * twice in a row (the time of the first clean batch); at most `timeoutMs`.
 */
export async function msUntilGone(
  client: XdsClientProcess,
  target: string,
  removed: string,
  since: number,
  timeoutMs = 120_000,
): Promise<number> {
  let clean = 0;
  let at = 0;
  while (clean < 2 && performance.now() - since < timeoutMs) {
    const { counts } = await client.calls(target, 20, { deadlineMs: 2000 });
    if (counts[removed]) clean = 0;
    else if (clean++ === 0) at = performance.now();
  }
  return at - since;
}

/** The most a cumulative byte counter grew over any ~5 s between two of its samples. */
export function largestFiveSecondWindow(samples: readonly { t: number; bytes: number }[]): number {
  let worst = 0;
  for (const a of samples) {
    for (const b of samples) {
      if (b.t - a.t >= 4_750 && b.t - a.t <= 5_250) worst = Math.max(worst, b.bytes - a.bytes);
    }
  }
  return worst;
}

/** The most bytes that arrived within any 5 s, from messages timed as they arrived. */
export function largestFiveSecondBurst(arrivals: readonly { t: number; bytes: number }[]): number {
  let worst = 0;
  for (const a of arrivals) {
    let sum = 0;
    for (const b of arrivals) if (b.t >= a.t && b.t < a.t + 5_000) sum += b.bytes;
    worst = Math.max(worst, sum);
  }
  return worst;
}

export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
}

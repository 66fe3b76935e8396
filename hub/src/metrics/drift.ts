/**
 * How long a region's applied hash has differed from its desired one. The best date is the
 * oldest thing the agent has yet to take in: the oldest publication it has not consumed, or since
 * when the hub holds changes back for it. When there is none (changes still in the debounce, a
 * message the agent rejected, a hub that restarted and published nothing since), the last such
 * date is kept, or else the moment this hub first saw the hashes differ.
 */
export interface DriftClock {
  /** `evidence`: that oldest date in ms since the epoch, when one is known. */
  observe(region: string, inSync: boolean, evidence: number | undefined, now: number): Drift;
}

export interface Drift {
  /** Since when the hashes differ (ms since the epoch); null in sync. */
  since: number | null;
  seconds: number;
}

export function createDriftClock(): DriftClock {
  const since = new Map<string, number>();
  return {
    observe(region, inSync, evidence, now) {
      if (inSync) {
        since.delete(region);
        return { since: null, seconds: 0 };
      }
      const from = Math.min(now, evidence ?? since.get(region) ?? now);
      since.set(region, from);
      return { since: from, seconds: Math.round((now - from) / 100) / 10 };
    },
  };
}

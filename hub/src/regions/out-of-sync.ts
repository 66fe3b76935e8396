/**
 * Since when each region's applied view has differed from the one the hub wants for it, as this
 * hub has seen it. Lag (`lag.seconds`) restarts at every publication; an operator asking "has this
 * region been drifting for long?" needs a clock that keeps running until the region is back in
 * sync, whatever was published meanwhile.
 */
export interface OutOfSyncTracker {
  /**
   * Records what is known of the region at `now` (ms since the epoch) and returns since when it
   * has been out of sync, or undefined when it is in sync. `publishedAt` is when the hub last
   * published for the region: when that came after the last time it was seen in sync, the region
   * has been out of sync at least since then (an agent stopped before the change never says so).
   * Otherwise the divergence was first seen now.
   */
  observe(
    region: string,
    o: { inSync: boolean; now: number; publishedAt?: number | undefined },
  ): number | undefined;
  /** Forgets every region not named (deleted regions). */
  retain(regions: readonly string[]): void;
}

export function createOutOfSyncTracker(): OutOfSyncTracker {
  const seen = new Map<string, { inSyncAt?: number; outSince?: number }>();
  return {
    observe(region, { inSync, now, publishedAt }) {
      let s = seen.get(region);
      if (!s) {
        s = {};
        seen.set(region, s);
      }
      if (inSync) {
        s.inSyncAt = now;
        delete s.outSince;
        return undefined;
      }
      if (s.outSince === undefined) {
        const after = s.inSyncAt ?? Number.NEGATIVE_INFINITY;
        s.outSince =
          publishedAt !== undefined && publishedAt > after && publishedAt <= now ? publishedAt : now;
      }
      return s.outSince;
    },
    retain(regions) {
      const keep = new Set(regions);
      for (const r of seen.keys()) if (!keep.has(r)) seen.delete(r);
    },
  };
}

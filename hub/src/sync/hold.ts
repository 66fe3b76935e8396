/**
 * Coalescing under throttle (DESIGN.md, "Under pressure"). While what a region's agent has not
 * consumed would take longer than `coalesceAfterMs` to drain at its budget, a state published
 * now would only wait in the queue until a newer one supersedes it. So the region's changes stay
 * pending (accumulating key by key in its state) and go as one delta once the queue is short.
 */
import type { Logger } from '@fedmesh/shared';
import type { RegionState } from './region-state.js';

/** How often held regions are looked at again: their queues drain at the line's pace, not the config's. */
const RECHECK_MS = 250;

export interface HoldDeps {
  /** 0 holds nothing. */
  coalesceAfterMs: number;
  /** The region's queue over its budget (ms); undefined when not known, which never holds. */
  lineDrainMs: (region: string) => number | undefined;
  /** A publication round, for the recheck. */
  publish: () => void;
  log: Logger;
}

export interface LineHold {
  /**
   * Whether the region's pending changes wait this round. Only a region with a chain (a head)
   * and no failure is held: a snapshot that is due is never held back, and nor is a region whose
   * agent is silent.
   */
  holds(region: string, st: RegionState, changedThisRound: boolean): boolean;
  /** Some region was held: look again soon. */
  recheckSoon(): void;
  stop(): void;
}

export function createLineHold(deps: HoldDeps): LineHold {
  let timer: NodeJS.Timeout | undefined;
  return {
    holds(region, st, changedThisRound) {
      if (deps.coalesceAfterMs <= 0 || !st.stats.head || st.stats.lastError) return false;
      const drainMs = deps.lineDrainMs(region);
      if (drainMs === undefined || drainMs <= deps.coalesceAfterMs) return false;
      if (!st.stats.holdingSince) {
        st.stats.holdingSince = new Date();
        deps.log.info(
          { region, drainSeconds: Math.round(drainMs / 100) / 10 },
          'line behind: holding intermediate states until its queue drains',
        );
      }
      if (changedThisRound) st.stats.coalescedRounds++;
      return true;
    },
    recheckSoon() {
      if (timer) return;
      timer = setTimeout(() => {
        timer = undefined;
        deps.publish();
      }, RECHECK_MS);
      timer.unref();
    },
    stop() {
      clearTimeout(timer);
    },
  };
}

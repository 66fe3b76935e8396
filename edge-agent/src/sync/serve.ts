/**
 * The serve throttle: verified views reach the proxies at once when the agent is caught up, and
 * at most every couple of seconds while it works through a backlog.
 */
import type { RegionView } from '@fedmesh/shared';
import type { Clock } from './pacer.js';

/**
 * While catching up on a backlog, proxies get the newest verified view at most this often:
 * translating every intermediate view for them would make the agent, not the line, the
 * bottleneck. Once caught up, every view is served at once.
 */
export const CATCH_UP_SERVE_MS = 2_000;

export interface ServeThrottle {
  /** Counts the view held now as served (the agent serves its persisted view as it starts). */
  served(): void;
  /** Hands a view to the proxies now, or (while catching up) once the backlog or a second has passed. */
  serve(view: RegionView | undefined, caughtUp: boolean): void;
}

export function createServeThrottle(clock: Clock, onView: (view: RegionView) => void): ServeThrottle {
  /** A verified, persisted view not yet handed to the proxies (catching up), and when the last one was. */
  let unserved: RegionView | undefined;
  let servedAt = 0;
  /** How long handing the last view over took (the xDS translation): catching up spends at most a fifth on it. */
  let serveMs = 0;
  return {
    served() {
      servedAt = clock.now();
    },
    serve(view, caughtUp) {
      if (view) unserved = view;
      if (!unserved) return;
      const now = clock.now();
      if (!caughtUp && now - servedAt < Math.max(CATCH_UP_SERVE_MS, 4 * serveMs)) return;
      const v = unserved;
      unserved = undefined;
      onView(v);
      servedAt = clock.now();
      serveMs = servedAt - now;
    },
  };
}

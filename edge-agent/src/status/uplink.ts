import { type AgentStatusReportInput, statusSubject } from '@fedmesh/shared';
import type { Uplink } from '../uplink/lanes.js';

/** Status goes after the healthy counts and before the endpoint detail. */
export const STATUS_PRIORITY = 1;

/**
 * Reports the agent's status to the hub on `fedmesh.status.<region>`, on the status lane of the
 * budgeted uplink: soon after something changed, and on a heartbeat so the hub can tell a quiet
 * region from a dead one. The report is built when the budget lets it go, so a waiting report is
 * always the latest. Reports are fire-and-forget; the next heartbeat repairs a lost one.
 */
export function startStatusUplink(deps: {
  uplink: Uplink;
  region: string;
  heartbeatMs: number;
  report: () => AgentStatusReportInput;
}): { changed(): void; stop(): void } {
  const subject = statusSubject(deps.region);
  const lane = deps.uplink.lane('status', STATUS_PRIORITY, () => ({
    subject,
    body: JSON.stringify(deps.report()),
  }));
  let pending: NodeJS.Timeout | undefined;
  const heartbeat = setInterval(() => lane.mark(), deps.heartbeatMs);
  heartbeat.unref();
  return {
    // Coalesces bursts (a snapshot applied while proxies reconnect) into one report.
    changed() {
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        lane.mark();
      }, 50);
    },
    stop() {
      clearInterval(heartbeat);
      if (pending) clearTimeout(pending);
      lane.mark();
    },
  };
}

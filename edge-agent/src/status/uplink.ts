import { type AgentStatusReportInput, type Logger, statusSubject } from '@fedmesh/shared';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Reports the agent's status to the hub on `fedmesh.status.<region>`: at once when something
 * changed, and on a heartbeat so the hub can tell a quiet region from a dead one. Reports are
 * fire-and-forget; the next heartbeat repairs a lost one.
 */
export function startStatusUplink(deps: {
  nc: () => NatsConnection | undefined;
  region: string;
  heartbeatMs: number;
  report: () => AgentStatusReportInput;
  logger: Logger;
}): { changed(): void; stop(): void } {
  let pending: NodeJS.Timeout | undefined;
  const send = () => {
    const nc = deps.nc();
    if (!nc || nc.isClosed()) return;
    try {
      nc.publish(statusSubject(deps.region), JSON.stringify(deps.report()));
    } catch (err) {
      deps.logger.debug({ err: (err as Error).message }, 'status report not sent');
    }
  };
  const heartbeat = setInterval(send, deps.heartbeatMs);
  heartbeat.unref();
  return {
    // Coalesces bursts (a snapshot applied while proxies reconnect) into one report.
    changed() {
      if (pending) return;
      pending = setTimeout(() => {
        pending = undefined;
        send();
      }, 50);
    },
    stop() {
      clearInterval(heartbeat);
      if (pending) clearTimeout(pending);
      send();
    },
  };
}

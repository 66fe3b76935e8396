import { AgentStatusReport, type Logger, type ProxyReport, STATUS_SUBJECT_PREFIX } from '@fedmesh/shared';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

export interface ReceivedStatus {
  report: AgentStatusReport;
  receivedAt: Date;
  /** The last proxy inventory the agent sent (reports carry it only when it changed). */
  proxies?: { items: ProxyReport[]; receivedAt: Date };
}

/** Latest status report of every region's agent, as received on `fedmesh.status.*`. */
export interface StatusIntake {
  get(region: string): ReceivedStatus | undefined;
  /** Called for every valid report, after it is stored. */
  onReport(listener: (report: AgentStatusReport) => void): void;
  close(): void;
}

export function createStatusIntake(nc: NatsConnection, logger: Logger): StatusIntake {
  const log = logger.child({ component: 'status' });
  const latest = new Map<string, ReceivedStatus>();
  const listeners: ((r: AgentStatusReport) => void)[] = [];
  const sub: Subscription = nc.subscribe(`${STATUS_SUBJECT_PREFIX}.*`, {
    callback: (err, msg) => {
      if (err) return;
      const region = msg.subject.slice(STATUS_SUBJECT_PREFIX.length + 1);
      let parsed: AgentStatusReport;
      try {
        parsed = AgentStatusReport.parse(msg.json());
      } catch (e) {
        log.warn({ region, err: (e as Error).message }, 'ignoring a malformed status report');
        return;
      }
      // The subject, not the body, says which region spoke: NATS permissions guard the subject.
      if (parsed.region !== region) {
        log.warn({ region, claimed: parsed.region }, 'ignoring a status report for another region');
        return;
      }
      const now = new Date();
      const prior = latest.get(region);
      const proxies = parsed.proxyList ? { items: parsed.proxyList, receivedAt: now } : prior?.proxies;
      latest.set(region, { report: parsed, receivedAt: now, ...(proxies ? { proxies } : {}) });
      for (const l of listeners) l(parsed);
    },
  });
  return {
    get: (region) => latest.get(region),
    onReport: (l) => listeners.push(l),
    close: () => sub.unsubscribe(),
  };
}

/**
 * The agent's uplink (DESIGN.md "Discovery and the uplink"): everything it sends up (healthy
 * counts, status, endpoint detail) shares one token bucket of the Region's `uplink.budget`, its
 * own and never the downlink's, and goes by priority: when the bucket is short, the lane with the
 * lowest priority number goes first and the others wait.
 *
 * A lane's message is built when it can go, not when it was asked for: whatever changed while a
 * lane waited joins its next message, so a waiting lane coalesces to the latest state instead of
 * queueing stale reports.
 */
import type { Logger } from '@fedmesh/shared';

/** What the uplink needs of a NATS connection (a `NatsConnection` is one). */
export interface Publisher {
  publish(subject: string, body: string): void;
  isClosed(): boolean;
}

/** The bucket holds at least this much, so one small report always fits. */
export const MIN_UPLINK_BURST = 4096;
/** NATS adds the PUB line and CRLFs to every message; TCP/IP adds about 3.5 %. */
const PROTOCOL_BYTES = 24;
const TCP_IP = 1.035;
const RETRY_MS = 1000;

export interface Outgoing {
  subject: string;
  body: string;
  /** Called once the message is published. */
  sent?(): void;
}

export interface Lane {
  /** There is something new to send; the lane's producer is asked when the budget allows. */
  mark(): void;
}

export interface UplinkStatus {
  budgetBytesPerSecond: number | null;
  /** Line bytes sent per lane since the agent started. */
  bytesSent: Record<string, number>;
  messagesSent: Record<string, number>;
  /** Lanes with something to send that wait for the budget. */
  waiting: string[];
}

export interface Uplink {
  /** A lane; `produce` returns what to send now, or nothing when it has nothing new after all. */
  lane(name: string, priority: number, produce: () => Outgoing | undefined): Lane;
  status(): UplinkStatus;
  stop(): void;
}

/** What a message costs on the line, estimated the same way everywhere. */
export function uplinkCost(subject: string, body: string): number {
  return Math.ceil((Buffer.byteLength(body) + subject.length + PROTOCOL_BYTES) * TCP_IP);
}

export function createUplink(deps: {
  nc: () => Publisher | undefined;
  /** The Region's uplink budget in bytes/s, when it has one (read again before every message). */
  budget: () => number | undefined;
  log: Logger;
  /** Every message sent, with its lane and line bytes (tests, metrics). */
  onSent?: (lane: string, bytes: number) => void;
  now?: () => number;
}): Uplink {
  const now = deps.now ?? (() => performance.now());
  const lanes: { name: string; priority: number; produce: () => Outgoing | undefined; pending: boolean }[] =
    [];
  const bytesSent: Record<string, number> = {};
  const messagesSent: Record<string, number> = {};
  let tokens = Number.POSITIVE_INFINITY;
  let filledAt = now();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  /** Refills the bucket; how long until `cost` fits (0: now). */
  const waitFor = (cost: number): number => {
    const rate = deps.budget();
    if (rate === undefined || rate <= 0) {
      tokens = Number.POSITIVE_INFINITY;
      return 0;
    }
    const burst = Math.max(MIN_UPLINK_BURST, rate);
    const t = now();
    tokens = Math.min(burst, (Number.isFinite(tokens) ? tokens : burst) + ((t - filledAt) / 1000) * rate);
    filledAt = t;
    // A message bigger than the bucket goes once the bucket is full, and leaves it in debt.
    const need = Math.min(cost, burst);
    return tokens >= need ? 0 : Math.ceil(((need - tokens) / rate) * 1000);
  };

  let dueAt = 0;
  /** Wakes the pump in `ms`, or sooner if it is already due sooner. */
  const wakeIn = (ms: number) => {
    if (stopped || (timer && dueAt <= now() + ms)) return;
    clearTimeout(timer);
    dueAt = now() + ms;
    timer = setTimeout(() => {
      timer = undefined;
      pump();
    }, ms);
    timer.unref();
  };

  const pump = () => {
    if (stopped) return;
    const nc = deps.nc();
    // Not connected: the lanes stay marked and their owners send everything again on connect.
    if (!nc || nc.isClosed()) return;
    for (const lane of lanes) {
      if (!lane.pending) continue;
      const out = lane.produce();
      if (!out) {
        lane.pending = false;
        continue;
      }
      const cost = uplinkCost(out.subject, out.body);
      const wait = waitFor(cost);
      if (wait > 0) {
        // Lower lanes wait behind this one; a higher one marked meanwhile goes first.
        wakeIn(wait);
        return;
      }
      try {
        nc.publish(out.subject, out.body);
      } catch (err) {
        deps.log.warn({ lane: lane.name, err: (err as Error).message }, 'uplink message not sent; retrying');
        wakeIn(RETRY_MS);
        return;
      }
      tokens -= cost;
      lane.pending = false;
      bytesSent[lane.name] = (bytesSent[lane.name] ?? 0) + cost;
      messagesSent[lane.name] = (messagesSent[lane.name] ?? 0) + 1;
      deps.onSent?.(lane.name, cost);
      out.sent?.();
    }
  };

  return {
    lane(name, priority, produce) {
      const lane = { name, priority, produce, pending: false };
      lanes.push(lane);
      lanes.sort((a, b) => a.priority - b.priority);
      bytesSent[name] = 0;
      messagesSent[name] = 0;
      return {
        mark() {
          lane.pending = true;
          // At once if it fits: a lane of higher priority than one waiting for the bucket passes it.
          pump();
        },
      };
    },
    status: () => ({
      budgetBytesPerSecond: deps.budget() ?? null,
      bytesSent: { ...bytesSent },
      messagesSent: { ...messagesSent },
      waiting: lanes.filter((l) => l.pending).map((l) => l.name),
    }),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

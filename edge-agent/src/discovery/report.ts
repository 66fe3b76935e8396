/**
 * The uplink of discovered endpoints (DESIGN.md "Discovery and the uplink"): what this site's
 * registrations say, per service, goes to the hub on `fedmesh.uplink.<region>`, which stores it
 * as the region's `ServiceEndpoints/{namespace}/{service}-{region}`, owned by this agent.
 * Changes are coalesced: a burst of health flips becomes one report with each changed service's
 * latest list. Everything is sent again on connect and every minute (the hub skips what it
 * already holds), so a hub that restarted or missed a report converges. Reports are paced by
 * the Region's `uplink.budget` (a token bucket of its own, one second of budget deep, never
 * the downlink's): while the bucket is short the report waits and keeps coalescing.
 */
import { type EndpointsReport, type Logger, uplinkSubject } from '@fedmesh/shared';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DiscoveredEndpoint, EndpointSource } from './source.js';

const COALESCE_MS = 200;
const FULL_EVERY_MS = 60_000;
/** The bucket holds at least this much, so one report of a few services always fits. */
const MIN_BURST = 4096;
/** NATS adds the PUB line and CRLFs; TCP/IP adds about 3.5 %. */
const OVERHEAD = 64;

export interface EndpointsReporter {
  /** Sends everything (NATS just connected). */
  resend(): void;
  stop(): void;
}

export function startEndpointsReporter(deps: {
  region: string;
  source: EndpointSource;
  nc: () => NatsConnection | undefined;
  log: Logger;
  /** The Region's uplink budget in bytes/s, when it has one (read again before every report). */
  budget?: () => number | undefined;
  /** Line bytes of every report sent (tests, metrics). */
  onSent?: (bytes: number) => void;
}): EndpointsReporter {
  let sent = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let forceFull = true;
  let tokens = Number.POSITIVE_INFINITY;
  let filledAt = performance.now();
  /** Refills the bucket; returns how long until `cost` fits (0: now). */
  const waitFor = (cost: number): number => {
    const rate = deps.budget?.();
    if (rate === undefined || rate <= 0) {
      tokens = Number.POSITIVE_INFINITY;
      return 0;
    }
    const burst = Math.max(MIN_BURST, rate);
    const now = performance.now();
    tokens = Math.min(burst, (Number.isFinite(tokens) ? tokens : burst) + ((now - filledAt) / 1000) * rate);
    filledAt = now;
    // A report bigger than the bucket goes once the bucket is full, and leaves it in debt.
    const need = Math.min(cost, burst);
    return tokens >= need ? 0 : Math.ceil(((need - tokens) / rate) * 1000);
  };
  const current = () => {
    const out = new Map<string, EndpointsReport['services'][string]>();
    for (const r of deps.source.list()) {
      const sid = `${r.namespace}/${r.service}`;
      out.set(sid, [...(out.get(sid) ?? []), endpointOf(r)]);
    }
    return out;
  };
  const flush = () => {
    timer = undefined;
    const nc = deps.nc();
    if (!nc || nc.isClosed()) return; // sent in full on the next connect
    const now = current();
    const services: EndpointsReport['services'] = {};
    for (const [sid, eps] of now) {
      const text = JSON.stringify(eps);
      if (forceFull || sent.get(sid) !== text) services[sid] = eps;
    }
    const removed = [...sent.keys()].filter((sid) => !now.has(sid));
    if (!forceFull && Object.keys(services).length === 0 && removed.length === 0) return;
    const report: EndpointsReport = { region: deps.region, services, removed, full: forceFull };
    const body = JSON.stringify(report);
    const cost = Math.ceil((Buffer.byteLength(body) + OVERHEAD) * 1.035);
    const wait = waitFor(cost);
    if (wait > 0) {
      // Not now: what changes meanwhile joins this report.
      timer = setTimeout(flush, wait);
      timer.unref();
      return;
    }
    tokens -= cost;
    try {
      nc.publish(uplinkSubject(deps.region), body);
      deps.onSent?.(cost);
    } catch (err) {
      deps.log.warn({ err: (err as Error).message }, 'cannot report discovered endpoints; retrying in full');
      forceFull = true;
      schedule();
      return;
    }
    sent = new Map([...now].map(([sid, eps]) => [sid, JSON.stringify(eps)]));
    forceFull = false;
  };
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(flush, COALESCE_MS);
    timer.unref();
  };
  deps.source.onChange(schedule);
  const full = setInterval(() => {
    forceFull = true;
    schedule();
  }, FULL_EVERY_MS);
  full.unref();
  schedule();
  return {
    resend() {
      forceFull = true;
      schedule();
    },
    stop() {
      clearTimeout(timer);
      clearInterval(full);
    },
  };
}

function endpointOf(r: DiscoveredEndpoint): EndpointsReport['services'][string][number] {
  return {
    address: r.address,
    port: r.port,
    ...(r.zone ? { zone: r.zone } : {}),
    ...(r.labels ? { labels: r.labels } : {}),
    healthy: r.healthy,
  };
}

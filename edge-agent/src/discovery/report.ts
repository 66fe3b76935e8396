/**
 * The uplink of discovered endpoints (DESIGN.md "Discovery and the uplink"): what this site's
 * registrations say, per service, goes to the hub on `fedmesh.uplink.<region>`, which stores it
 * as the region's `ServiceEndpoints/{namespace}/{service}-{region}`, owned by this agent.
 * Changes are coalesced: a burst of health flips becomes one report with each changed service's
 * latest list. Everything is sent again on connect and every minute (the hub skips what it
 * already holds), so a hub that restarted or missed a report converges.
 */
import { type EndpointsReport, type Logger, uplinkSubject } from '@fedmesh/shared';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Registry, RegistrationStatus } from './registry.js';

const COALESCE_MS = 200;
const FULL_EVERY_MS = 60_000;

export interface EndpointsReporter {
  /** Sends everything (NATS just connected). */
  resend(): void;
  stop(): void;
}

export function startEndpointsReporter(deps: {
  region: string;
  registry: Registry;
  nc: () => NatsConnection | undefined;
  log: Logger;
}): EndpointsReporter {
  let sent = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let forceFull = true;
  const current = () => {
    const out = new Map<string, EndpointsReport['services'][string]>();
    for (const r of deps.registry.list()) {
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
    try {
      nc.publish(uplinkSubject(deps.region), JSON.stringify(report));
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
  deps.registry.onChange(schedule);
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

function endpointOf(r: RegistrationStatus): EndpointsReport['services'][string][number] {
  return {
    address: r.address,
    port: r.port,
    ...(r.zone ? { zone: r.zone } : {}),
    ...(r.labels ? { labels: r.labels } : {}),
    healthy: r.healthy,
  };
}

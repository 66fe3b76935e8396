/**
 * The uplink of discovered endpoints (DESIGN.md "Discovery and the uplink"): what this region's
 * sources say, per service, goes to the hub on `fedmesh.uplink.<region>`, which stores it as the
 * region's `ServiceEndpoints/{namespace}/{service}-{region}`, owned by this agent.
 *
 * Two lanes of the agent's budgeted uplink carry it:
 * - **counts** (first priority): per service, how many endpoints are healthy, for the services
 *   whose count the hub does not have yet. That is all other regions need (their gateway entry's
 *   weight), and it is a few bytes however many endpoints changed.
 * - **detail** (after status): each changed service's latest list, coalesced (a burst of flips
 *   becomes one report), in pieces of at most one bucket so that counts and status are never
 *   stuck behind a big report. Everything goes again on connect and every minute (the hub skips
 *   what it already holds), so a hub that restarted or missed a report converges; the last piece
 *   of such a full round says `full` and lists in `keep` what earlier pieces carried.
 * Endpoint churn that leaves the healthy counts alone only ever travels as detail.
 */
import { type EndpointsReport, uplinkSubject } from '@fedmesh/shared';
import { MIN_UPLINK_BURST, type Outgoing, type Uplink } from '../uplink/lanes.js';
import type { DiscoveredEndpoint, EndpointSource } from './source.js';

const COALESCE_MS = 200;
const FULL_EVERY_MS = 60_000;
export const COUNTS_PRIORITY = 0;
export const DETAIL_PRIORITY = 2;

type Detail = EndpointsReport['services'][string];

export interface EndpointsReporter {
  /** Sends everything (NATS just connected). */
  resend(): void;
  stop(): void;
}

export function startEndpointsReporter(deps: {
  region: string;
  source: EndpointSource;
  uplink: Uplink;
  /** The uplink budget in bytes/s, when there is one: a detail piece is at most one bucket. */
  budget: () => number | undefined;
}): EndpointsReporter {
  const subject = uplinkSubject(deps.region);
  /** What the hub was sent of each service: its detail as JSON, and its healthy count. */
  let sentDetail = new Map<string, string>();
  const sentCounts = new Map<string, number>();
  let forceFull = true;
  let forceCounts = true;
  /** Services already carried by earlier pieces of the full round under way. */
  const round = new Set<string>();

  const current = () => {
    const out = new Map<string, Detail>();
    for (const r of deps.source.list()) {
      const sid = `${r.namespace}/${r.service}`;
      const list = out.get(sid) ?? [];
      list.push(endpointOf(r));
      out.set(sid, list);
    }
    return out;
  };
  const healthyOf = (eps: Detail) => eps.reduce((n, e) => n + (e.healthy ? 1 : 0), 0);

  const counts = deps.uplink.lane('counts', COUNTS_PRIORITY, (): Outgoing | undefined => {
    const now = current();
    const changed: Record<string, number> = {};
    for (const [sid, eps] of now) {
      const n = healthyOf(eps);
      if (forceCounts || sentCounts.get(sid) !== n) changed[sid] = n;
    }
    if (Object.keys(changed).length === 0) return undefined;
    // `services` stays, empty: hubs older than counts require it (and then ignore the counts).
    const report: EndpointsReport = {
      region: deps.region,
      services: {},
      counts: changed,
      removed: [],
      full: false,
    };
    return {
      subject,
      body: JSON.stringify(report),
      sent() {
        for (const [sid, n] of Object.entries(changed)) sentCounts.set(sid, n);
        forceCounts = false;
      },
    };
  });

  const detail = deps.uplink.lane('detail', DETAIL_PRIORITY, (): Outgoing | undefined => {
    const now = current();
    const texts = new Map([...now].map(([sid, eps]) => [sid, JSON.stringify(eps)] as const));
    const due = [...texts.keys()]
      .filter((sid) => (forceFull ? !round.has(sid) : false) || sentDetail.get(sid) !== texts.get(sid))
      .sort();
    const removed = [...sentDetail.keys()].filter((sid) => !now.has(sid));
    if (!forceFull && due.length === 0 && removed.length === 0) return undefined;
    // One piece is at most one bucket (one service always goes, however big).
    const cap = Math.max(MIN_UPLINK_BURST, deps.budget() ?? Number.POSITIVE_INFINITY) - 256;
    const services: EndpointsReport['services'] = {};
    let size = 0;
    let carried = 0;
    for (const sid of due) {
      const add = sid.length + texts.get(sid)!.length + 4;
      if (carried > 0 && size + add > cap) break;
      services[sid] = now.get(sid)!;
      size += add;
      carried++;
    }
    const last = carried === due.length;
    const full = forceFull && last;
    const report: EndpointsReport = {
      region: deps.region,
      services,
      removed,
      full,
      ...(full && round.size > 0 ? { keep: [...round].filter((sid) => now.has(sid)) } : {}),
    };
    return {
      subject,
      body: JSON.stringify(report),
      sent() {
        for (const sid of Object.keys(services)) {
          sentDetail.set(sid, texts.get(sid)!);
          // The detail carries health: the hub's count for the service is now its own.
          sentCounts.set(sid, healthyOf(services[sid]!));
          if (forceFull) round.add(sid);
        }
        for (const sid of removed) {
          sentDetail.delete(sid);
          sentCounts.delete(sid);
        }
        if (full) {
          forceFull = false;
          round.clear();
          sentDetail = new Map([...sentDetail].filter(([sid]) => now.has(sid)));
        }
        if (!last) detail.mark(); // the next piece
      },
    };
  });

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      counts.mark();
      detail.mark();
    }, COALESCE_MS);
    timer.unref();
  };
  deps.source.onChange(schedule);
  const fullTimer = setInterval(() => {
    forceFull = true;
    round.clear();
    schedule();
  }, FULL_EVERY_MS);
  fullTimer.unref();
  schedule();
  return {
    resend() {
      forceFull = true;
      forceCounts = true;
      round.clear();
      schedule();
    },
    stop() {
      clearTimeout(timer);
      clearInterval(fullTimer);
    },
  };
}

function endpointOf(r: DiscoveredEndpoint): Detail[number] {
  return {
    address: r.address,
    port: r.port,
    ...(r.zone ? { zone: r.zone } : {}),
    ...(r.labels ? { labels: r.labels } : {}),
    healthy: r.healthy,
  };
}

/**
 * What agents discovered, stored (DESIGN.md "Discovery and the uplink"): each report on
 * `fedmesh.uplink.<region>` becomes that region's `ServiceEndpoints/{namespace}/{service}-{region}`,
 * annotated as owned by the region's agent and written through the API's one write path (audit
 * actor `agent-<region>`). The subject says which region spoke (NATS permissions guard it); a
 * report claiming another region is refused. A service the agent no longer reports is removed,
 * but only from what that agent owns.
 *
 * A report may carry healthy counts ahead of the detail (the uplink's first priority): they are
 * written as the `fedmesh.io/healthy-count` annotation on the stored endpoints, which other
 * regions' gateway entries follow at once; the next detail replaces the endpoints and drops it.
 *
 * A region whose agent has gone silent keeps its endpoints (static stability: its backends may
 * well be serving); after `staleAfterMs` without a word from the agent they are reported stale
 * (`GET /v1/regions/{region}`, `fedmesh_hub_region_endpoints_stale`), never deleted.
 */
import {
  API_VERSION,
  agentOwner,
  EndpointsReport,
  HEALTHY_COUNT_ANNOTATION,
  healthyCountOf,
  isDnsLabel,
  type Logger,
  OWNER_ANNOTATION,
  parseManifest,
  type Resource,
  UPLINK_SUBJECT_PREFIX,
} from '@fedmesh/shared';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Principal } from '../api/auth.js';
import type { Writer } from '../api/writes.js';

/** What the hub holds of a region's discovered endpoints, for the regions API. */
export interface RegionDiscovery {
  /** Services whose endpoints the region's agent owns here. */
  services: number;
  /** The last endpoints report from the agent since this hub started. */
  lastReportAt: Date | undefined;
}

export interface UplinkIntake {
  discovery(region: string): RegionDiscovery;
  /** Settles once the reports received so far are applied (tests, shutdown). */
  idle(): Promise<void>;
  close(): void;
}

export function agentPrincipal(region: string): Principal {
  return { name: `agent-${region}`, role: 'admin', agentOf: region };
}

export function serveEndpointReports(
  nc: NatsConnection,
  writer: Writer,
  list: () => Promise<Resource[]>,
  logger: Logger,
): UplinkIntake {
  const log = logger.child({ component: 'uplink' });
  const lastReport = new Map<string, Date>();
  /**
   * The services each region's agent owns at the hub, as `<namespace>/<service>`: seeded from the
   * config with one scan when the intake starts, then kept as reports write and remove. A full
   * report (every minute, from every agent) then costs its own size, not a scan of the mesh.
   */
  const owned = new Map<string, Set<string>>();
  const ownedBy = (region: string): Set<string> => {
    const set = owned.get(region) ?? new Set<string>();
    owned.set(region, set);
    return set;
  };
  const seeded = (async () => {
    for (const r of await list()) {
      const owner = r.kind === 'ServiceEndpoints' ? r.metadata.annotations?.[OWNER_ANNOTATION] : undefined;
      if (!owner?.startsWith('agent/')) continue;
      const region = owner.slice('agent/'.length);
      ownedBy(region).add(`${r.metadata.namespace}/${(r.spec as { service: string }).service}`);
    }
  })().catch((e) => log.error({ err: (e as Error).message }, 'cannot list the agent-owned endpoints'));

  // One region's reports are applied in order; regions do not wait for each other.
  const queues = new Map<string, Promise<void>>();
  const sub: Subscription = nc.subscribe(`${UPLINK_SUBJECT_PREFIX}.*`, {
    callback: (err, msg) => {
      if (err) return;
      const region = msg.subject.slice(UPLINK_SUBJECT_PREFIX.length + 1);
      let report: EndpointsReport;
      try {
        report = EndpointsReport.parse(msg.json());
      } catch (e) {
        log.warn({ region, err: (e as Error).message }, 'ignoring a malformed endpoints report');
        return;
      }
      if (report.region !== region || !isDnsLabel(region)) {
        log.warn({ region, claimed: report.region }, 'ignoring an endpoints report for another region');
        return;
      }
      lastReport.set(region, new Date());
      const next = (queues.get(region) ?? seeded)
        .then(() => apply(region, report))
        .catch((e) => log.error({ region, err: (e as Error).message }, 'endpoints report not applied'));
      queues.set(region, next);
    },
  });

  const endpointsRef = (sid: string, region: string) => {
    const [namespace, service] = sid.split('/');
    if (!namespace || !service || !isDnsLabel(namespace) || !isDnsLabel(service)) return undefined;
    return { kind: 'ServiceEndpoints', namespace, name: `${service}-${region}`, service } as const;
  };

  const apply = async (region: string, report: EndpointsReport) => {
    const actor = agentPrincipal(region);
    const mine = ownedBy(region);
    for (const [sid, endpoints] of Object.entries(report.services)) {
      const ref = endpointsRef(sid, region);
      if (!ref) continue;
      let resource: Resource;
      try {
        resource = parseManifest({
          apiVersion: API_VERSION,
          kind: 'ServiceEndpoints',
          metadata: {
            name: ref.name,
            namespace: ref.namespace,
            annotations: { [OWNER_ANNOTATION]: agentOwner(region) },
          },
          spec: { service: ref.service, region, endpoints },
        });
      } catch (e) {
        log.warn({ region, service: sid, err: (e as Error).message }, 'reported endpoints refused');
        continue;
      }
      await writer.write(resource, {}, actor);
      mine.add(sid);
    }
    for (const [sid, count] of Object.entries(report.counts ?? {})) {
      // A count for a service whose detail is in this report or not yet stored waits for the detail.
      if (sid in report.services || !mine.has(sid)) continue;
      const ref = endpointsRef(sid, region);
      const stored = ref && (await writer.get(ref));
      if (!stored || stored.resource.metadata.annotations?.[OWNER_ANNOTATION] !== agentOwner(region))
        continue;
      if (healthyCountOf(stored.resource as Parameters<typeof healthyCountOf>[0]) === count) continue;
      const { [HEALTHY_COUNT_ANNOTATION]: _, ...annotations } = stored.resource.metadata.annotations;
      await writer.write(
        {
          ...stored.resource,
          metadata: {
            ...stored.resource.metadata,
            annotations: { ...annotations, [HEALTHY_COUNT_ANNOTATION]: String(count) },
          },
        },
        {},
        actor,
      );
    }
    const gone = new Set(report.removed);
    // Everything the agent owns but no longer lists goes too.
    const keep = new Set(report.keep);
    if (report.full) for (const sid of mine) if (!(sid in report.services) && !keep.has(sid)) gone.add(sid);
    for (const sid of gone) {
      mine.delete(sid);
      const ref = endpointsRef(sid, region);
      if (!ref) continue;
      const stored = await writer.get(ref);
      if (stored?.resource.metadata.annotations?.[OWNER_ANNOTATION] !== agentOwner(region)) continue;
      await writer.delete(ref, undefined, actor);
    }
  };

  return {
    discovery: (region) => ({ services: owned.get(region)?.size ?? 0, lastReportAt: lastReport.get(region) }),
    idle: async () => {
      await seeded;
      await Promise.all(queues.values());
    },
    close: () => sub.unsubscribe(),
  };
}

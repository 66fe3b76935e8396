/**
 * What agents discovered, stored (DESIGN.md "Discovery and the uplink"): each report on
 * `fedmesh.uplink.<region>` becomes that region's `ServiceEndpoints/{namespace}/{service}-{region}`,
 * annotated as owned by the region's agent and written through the API's one write path (audit
 * actor `agent-<region>`). The subject says which region spoke (NATS permissions guard it); a
 * report claiming another region is refused. A service the agent no longer reports is removed,
 * but only from what that agent owns.
 */
import {
  API_VERSION,
  agentOwner,
  EndpointsReport,
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

export interface UplinkIntake {
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
      const next = (queues.get(region) ?? Promise.resolve())
        .then(() => apply(region, report))
        .catch((e) => log.error({ region, err: (e as Error).message }, 'endpoints report not applied'));
      queues.set(region, next);
    },
  });

  /**
   * The services each region's agent owns at the hub, as `<namespace>/<service>`: seeded from the
   * config once, at the region's first report after this hub started, then kept as reports write
   * and remove. A full report (every minute, from every agent) then costs its own size, not a
   * scan of every ServiceEndpoints in the mesh.
   */
  const owned = new Map<string, Set<string>>();
  const ownedBy = async (region: string): Promise<Set<string>> => {
    let set = owned.get(region);
    if (!set) {
      set = new Set();
      for (const r of await list()) {
        if (
          r.kind === 'ServiceEndpoints' &&
          r.metadata.annotations?.[OWNER_ANNOTATION] === agentOwner(region)
        )
          set.add(`${r.metadata.namespace}/${(r.spec as { service: string }).service}`);
      }
      owned.set(region, set);
    }
    return set;
  };

  const apply = async (region: string, report: EndpointsReport) => {
    const actor = agentPrincipal(region);
    const mine = await ownedBy(region);
    for (const [sid, endpoints] of Object.entries(report.services)) {
      const [namespace, service] = sid.split('/');
      if (!namespace || !service || !isDnsLabel(namespace) || !isDnsLabel(service)) continue;
      let resource: Resource;
      try {
        resource = parseManifest({
          apiVersion: API_VERSION,
          kind: 'ServiceEndpoints',
          metadata: {
            name: `${service}-${region}`,
            namespace,
            annotations: { [OWNER_ANNOTATION]: agentOwner(region) },
          },
          spec: { service, region, endpoints },
        });
      } catch (e) {
        log.warn({ region, service: sid, err: (e as Error).message }, 'reported endpoints refused');
        continue;
      }
      await writer.write(resource, {}, actor);
      mine.add(sid);
    }
    const gone = new Set(report.removed);
    // Everything the agent owns but no longer lists goes too.
    if (report.full) for (const sid of mine) if (!(sid in report.services)) gone.add(sid);
    for (const sid of gone) {
      mine.delete(sid);
      const [namespace, service] = sid.split('/');
      if (!namespace || !service) continue;
      const ref = { kind: 'ServiceEndpoints', namespace, name: `${service}-${region}` } as const;
      const stored = await writer.get(ref);
      if (stored?.resource.metadata.annotations?.[OWNER_ANNOTATION] !== agentOwner(region)) continue;
      await writer.delete(ref, undefined, actor);
    }
  };

  return { close: () => sub.unsubscribe() };
}

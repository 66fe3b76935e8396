import {
  exportMatches,
  healthyCountOf,
  kindInfo,
  ownedByAgentOf,
  parseDependsOn,
  type Resource,
  type ResourceOf,
  remoteEndpoints,
  remoteEndpointsKey,
  resourceViewKey,
  ScopingRole,
  type ViewResource,
} from '@fedmesh/shared';

/**
 * The scoping rule of DESIGN.md, computed from scratch over the whole mesh. It is the reference
 * semantics: the incremental scoper must always agree with it (a property test checks that),
 * and it is what `GET /v1/regions/{region}/view` would show if nothing were cached.
 *
 * Region R receives: its own Region; every Service exported to R that has endpoints in R or is
 * a direct dependency of a service with endpoints in R; the routes and policies of those
 * services; their local ServiceEndpoints in R; and for every other region where such a service
 * runs (has at least one endpoint, healthy or not), one RemoteEndpoints entry (that region's
 * gateway, weighted by its healthy count; regions without a gateway are unreachable and left out).
 */
export function scopeRegion(regionName: string, all: Iterable<Resource>): Record<string, ViewResource> {
  const regions = new Map<string, ResourceOf<'Region'>>();
  const services = new Map<string, ResourceOf<'Service'>>();
  const endpoints: ResourceOf<'ServiceEndpoints'>[] = [];
  const attached: Resource[] = [];
  for (const r of all) {
    // The registry says what each kind is to the rule; a new kind attached to a service needs no case here.
    switch (kindInfo(r.kind).role) {
      case ScopingRole.Region:
        regions.set(r.metadata.name, r as ResourceOf<'Region'>);
        break;
      case ScopingRole.Service:
        services.set(svcId(r.metadata.namespace!, r.metadata.name), r as ResourceOf<'Service'>);
        break;
      case ScopingRole.Endpoints:
        endpoints.push(r as ResourceOf<'ServiceEndpoints'>);
        break;
      default:
        attached.push(r);
    }
  }
  const region = regions.get(regionName);
  const out: Record<string, ViewResource> = {};
  if (!region) return out;
  out[resourceViewKey(region)] = region;

  const runsIn = new Map<string, Set<string>>(); // service id → regions with endpoints
  for (const e of endpoints) {
    if (e.spec.endpoints.length === 0) continue;
    const id = svcId(e.metadata.namespace!, e.spec.service);
    const set = runsIn.get(id) ?? new Set<string>();
    runsIn.set(id, set);
    set.add(e.spec.region);
  }
  const local = [...runsIn].filter(([, rs]) => rs.has(regionName)).map(([id]) => id);
  const candidates = new Set<string>(local);
  for (const id of local) {
    const svc = services.get(id);
    if (!svc) continue;
    for (const dep of svc.spec.dependsOn ?? []) {
      const d = parseDependsOn(dep, svc.metadata.namespace!);
      candidates.add(svcId(d.namespace, d.name));
    }
  }
  const included = new Set<string>();
  for (const id of candidates) {
    const svc = services.get(id);
    if (svc && exportMatches(svc, region)) {
      included.add(id);
      out[resourceViewKey(svc)] = svc;
    }
  }
  for (const r of attached) {
    const spec = r.spec as { service?: string };
    if (spec.service && included.has(svcId(r.metadata.namespace!, spec.service))) out[resourceViewKey(r)] = r;
  }
  const healthy = new Map<string, number>(); // `${id}\0${region}` → healthy count elsewhere
  for (const e of endpoints) {
    const id = svcId(e.metadata.namespace!, e.spec.service);
    if (!included.has(id)) continue;
    if (e.spec.region === regionName) {
      // The region's agent serves what it discovered itself: not sent back down.
      if (!ownedByAgentOf(e, regionName)) out[resourceViewKey(e)] = e;
    } else if (e.spec.endpoints.length > 0) {
      const k = `${id}\0${e.spec.region}`;
      healthy.set(k, (healthy.get(k) ?? 0) + healthyCountOf(e));
    }
  }
  for (const [k, count] of healthy) {
    const [id, other] = k.split('\0') as [string, string];
    const gateway = regions.get(other)?.spec.gateway;
    if (!gateway) continue; // a region without an east-west gateway cannot be reached from here
    const [namespace, service] = id.split('/') as [string, string];
    out[remoteEndpointsKey(namespace, service, other)] = remoteEndpoints(
      namespace,
      service,
      other,
      gateway,
      count,
    );
  }
  return out;
}

function svcId(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

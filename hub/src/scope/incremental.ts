import {
  exportMatches,
  healthyCountOf,
  ownedByAgentOf,
  parseDependsOn,
  type RemoteEndpointsResource,
  type Resource,
  type ResourceOf,
  remoteEndpoints,
  remoteEndpointsKey,
  resourceViewKey,
  sameContent,
  type ViewResource,
  ViewState,
  viewKey,
} from '@fedmesh/shared';

/** How one view entry changed in a flush. */
export interface EntryChange {
  before: ViewResource | undefined;
  after: ViewResource | undefined;
}

/** A region's view changed: these keys, from these values to these. */
export type RegionChanges = Map<string, EntryChange>;

export interface IncrementalScoper {
  /** Feeds one config change (a put carries the new resource, a delete none). */
  apply(key: string, resource: Resource | undefined): void;
  /** Recomputes what the changes since the last call touched; returns the regions whose views changed. */
  flush(): Map<string, RegionChanges>;
  /** Regions that have (or had) a view. */
  regions(): string[];
  hash(region: string): string | undefined;
  resources(region: string): Record<string, ViewResource> | undefined;
  /** The current config, by view key (for reference checks). */
  resource(key: string): Resource | undefined;
  /** Every resource of the current config. */
  config(): IterableIterator<Resource>;
}

/**
 * The scoping rule of DESIGN.md, maintained incrementally. Indexes (reverse dependencies, where
 * each service runs, which services each region needs) let a change mark exactly the
 * (region, service) pairs it can affect; `flush` recomputes only those. The cost of a change
 * therefore follows the change and the number of regions it reaches, not the size of the mesh.
 * `scopeRegion` is the from-scratch reference; a property test holds the two equal.
 */
export function createIncrementalScoper(): IncrementalScoper {
  return new Scoper();
}

type Sid = string; // `<namespace>/<service>`
interface EndpointsInfo {
  sid: Sid;
  region: string;
  healthy: number;
  nonEmpty: boolean;
}

const sid = (namespace: string, name: string): Sid => `${namespace}/${name}`;

class Scoper implements IncrementalScoper {
  private readonly all = new Map<string, Resource>();
  private readonly regionObjs = new Map<string, ResourceOf<'Region'>>();
  private readonly services = new Map<Sid, ResourceOf<'Service'>>();
  private readonly deps = new Map<Sid, Set<Sid>>();
  private readonly dependents = new Map<Sid, Set<Sid>>();
  /** TrafficRoute/TrafficPolicy/AuthorizationPolicy keys by the service they attach to. */
  private readonly attached = new Map<Sid, Set<string>>();
  private readonly attachedSid = new Map<string, Sid>();
  private readonly endpoints = new Map<string, EndpointsInfo>();
  /** ServiceEndpoints keys by service, then region. */
  private readonly epKeys = new Map<Sid, Map<string, Set<string>>>();
  private readonly healthy = new Map<Sid, Map<string, number>>();
  /** Non-empty ServiceEndpoints of a service in a region: the service "runs" there when > 0. */
  private readonly runsIn = new Map<Sid, Map<string, number>>();
  /** Services running in each region (to follow a gateway change). */
  private readonly localSvcs = new Map<string, Set<Sid>>();
  /** How many services running in a region make this service needed there (itself or a dependent). */
  private readonly need = new Map<Sid, Map<string, number>>();
  /** Services needed by each region (the same relation, by region). */
  private readonly needed = new Map<string, Set<Sid>>();

  private readonly views = new Map<string, ViewState>();
  /** Per view: which keys each service contributed, to remove exactly those when it leaves. */
  private readonly contrib = new Map<string, Map<Sid, string[]>>();
  private readonly dirty = new Map<string, Set<Sid>>();
  private readonly dirtyOwn = new Set<string>();
  /**
   * One RemoteEndpoints entry per (service, region it runs in), shared by every view that needs
   * it: the entry is the same for all of them, so one object holds one digest, where an object
   * per view cost a copy and a digest each (about half of the million view entries at Alibaba
   * scale), and a flush that rebuilt them all allocated them again.
   */
  private readonly remotes = new Map<string, RemoteEndpointsResource>();

  apply(key: string, resource: Resource | undefined): void {
    const before = this.all.get(key);
    if (resource) this.all.set(key, resource);
    else this.all.delete(key);
    const kind = (resource ?? before)?.kind;
    if (!kind) return;
    if (kind === 'Region') {
      this.onRegion(before as ResourceOf<'Region'> | undefined, resource as ResourceOf<'Region'> | undefined);
    } else if (kind === 'Service') {
      this.onService(
        before as ResourceOf<'Service'> | undefined,
        resource as ResourceOf<'Service'> | undefined,
      );
    } else if (kind === 'ServiceEndpoints') {
      this.onEndpoints(key, resource as ResourceOf<'ServiceEndpoints'> | undefined);
    } else {
      this.onAttached(key, resource);
    }
  }

  flush(): Map<string, RegionChanges> {
    const out = new Map<string, RegionChanges>();
    const regions = new Set([...this.dirty.keys(), ...this.dirtyOwn]);
    for (const region of regions) {
      let view = this.views.get(region);
      if (!view) {
        if (!this.regionObjs.has(region)) continue; // no view and none wanted: nothing to tell anyone
        view = new ViewState();
        this.views.set(region, view);
        this.contrib.set(region, new Map());
      }
      const changes: RegionChanges = new Map();
      const put = (key: string, value: ViewResource | undefined) => {
        if (view.holds(key, value)) return;
        const current = view.get(key);
        view.set(key, value);
        const prior = changes.get(key);
        if (prior && sameContent(prior.before, value)) changes.delete(key);
        else changes.set(key, { before: prior ? prior.before : current, after: value });
      };
      if (this.dirtyOwn.has(region)) put(viewKey('Region', '_', region), this.regionObjs.get(region));
      const contrib = this.contrib.get(region)!;
      // Two passes: a key can move between services within one flush (a policy re-pointed
      // from one service to another), so removals wait until every new contribution is in.
      const dropped: string[] = [];
      const claimed = new Set<string>();
      const nexts: [Sid, Map<string, ViewResource>][] = [];
      for (const s of this.dirty.get(region) ?? []) {
        const next = this.contribution(region, s);
        nexts.push([s, next]);
        for (const k of contrib.get(s) ?? []) if (!next.has(k)) dropped.push(k);
      }
      for (const [s, next] of nexts) {
        for (const [k, v] of next) {
          claimed.add(k);
          put(k, v);
        }
        if (next.size) contrib.set(s, [...next.keys()]);
        else contrib.delete(s);
      }
      for (const k of dropped) if (!claimed.has(k)) put(k, undefined);
      if (changes.size) out.set(region, changes);
    }
    this.dirty.clear();
    this.dirtyOwn.clear();
    return out;
  }

  regions(): string[] {
    return [...new Set([...this.views.keys(), ...this.regionObjs.keys()])].sort();
  }

  hash(region: string): string | undefined {
    return this.views.get(region)?.hash();
  }

  resources(region: string): Record<string, ViewResource> | undefined {
    return this.views.get(region)?.toRecord();
  }

  resource(key: string): Resource | undefined {
    return this.all.get(key);
  }

  config(): IterableIterator<Resource> {
    return this.all.values();
  }

  // ---- what a (region, service) pair puts in the region's view

  private contribution(region: string, s: Sid): Map<string, ViewResource> {
    const out = new Map<string, ViewResource>();
    const regionObj = this.regionObjs.get(region);
    const svc = this.services.get(s);
    if (!regionObj || !svc || !((this.need.get(s)?.get(region) ?? 0) > 0) || !exportMatches(svc, regionObj))
      return out;
    out.set(resourceViewKey(svc), svc);
    for (const k of this.attached.get(s) ?? []) out.set(k, this.all.get(k)!);
    for (const k of this.epKeys.get(s)?.get(region) ?? []) {
      const eps = this.all.get(k)!;
      // The region's agent serves what it discovered itself: not sent back down.
      if (!ownedByAgentOf(eps, region)) out.set(k, eps);
    }
    const [namespace, service] = s.split('/') as [string, string];
    for (const [other, count] of this.runsIn.get(s) ?? []) {
      if (other === region || count === 0) continue;
      const gateway = this.regionObjs.get(other)?.spec.gateway;
      if (!gateway) continue;
      const healthy = this.healthy.get(s)?.get(other) ?? 0;
      const key = remoteEndpointsKey(namespace, service, other);
      out.set(key, this.remote(key, namespace, service, other, gateway, healthy));
    }
    return out;
  }

  private remote(
    key: string,
    namespace: string,
    service: string,
    other: string,
    gateway: { address: string; port: number },
    healthy: number,
  ): RemoteEndpointsResource {
    const held = this.remotes.get(key);
    if (
      held &&
      held.spec.healthy === healthy &&
      held.spec.gateway.address === gateway.address &&
      held.spec.gateway.port === gateway.port
    )
      return held;
    const fresh = remoteEndpoints(namespace, service, other, gateway, healthy);
    this.remotes.set(key, fresh);
    return fresh;
  }

  // ---- change handlers: update indexes, mark the pairs that may have changed

  private onRegion(before: ResourceOf<'Region'> | undefined, after: ResourceOf<'Region'> | undefined): void {
    const name = (after ?? before)!.metadata.name;
    if (after) this.regionObjs.set(name, after);
    else this.regionObjs.delete(name);
    this.dirtyOwn.add(name);
    // Labels decide exportTo; rare enough to re-check every service the region needs.
    for (const s of this.needed.get(name) ?? []) this.mark(name, s);
    // The gateway is what other regions see of the services running here.
    if (JSON.stringify(before?.spec.gateway) !== JSON.stringify(after?.spec.gateway)) {
      for (const s of this.localSvcs.get(name) ?? []) this.markNeeders(s, name);
    }
  }

  private onService(
    before: ResourceOf<'Service'> | undefined,
    after: ResourceOf<'Service'> | undefined,
  ): void {
    const r = (after ?? before)!;
    const s = sid(r.metadata.namespace!, r.metadata.name);
    if (after) this.services.set(s, after);
    else {
      this.services.delete(s);
      // Its shared RemoteEndpoints entries go with it (views drop theirs on this flush).
      for (const region of this.regionObjs.keys())
        this.remotes.delete(remoteEndpointsKey(r.metadata.namespace!, r.metadata.name, region));
    }
    const nextDeps = new Set<Sid>();
    for (const d of after?.spec.dependsOn ?? []) {
      const p = parseDependsOn(d, r.metadata.namespace!);
      nextDeps.add(sid(p.namespace, p.name));
    }
    this.setDeps(s, nextDeps);
    this.markNeeders(s);
  }

  private onAttached(key: string, after: Resource | undefined): void {
    const beforeSid = this.attachedSid.get(key);
    const spec = after?.spec as { service?: string } | undefined;
    const afterSid = after && spec?.service ? sid(after.metadata.namespace!, spec.service) : undefined;
    if (beforeSid !== undefined && beforeSid !== afterSid) {
      this.attached.get(beforeSid)?.delete(key);
      this.attachedSid.delete(key);
      this.markNeeders(beforeSid);
    }
    if (afterSid !== undefined) {
      getOrCreate(this.attached, afterSid, () => new Set()).add(key);
      this.attachedSid.set(key, afterSid);
      this.markNeeders(afterSid);
    }
  }

  private onEndpoints(key: string, after: ResourceOf<'ServiceEndpoints'> | undefined): void {
    const old = this.endpoints.get(key);
    const next: EndpointsInfo | undefined = after && {
      sid: sid(after.metadata.namespace!, after.spec.service),
      region: after.spec.region,
      healthy: healthyCountOf(after),
      nonEmpty: after.spec.endpoints.length > 0,
    };
    if (old) {
      this.endpoints.delete(key);
      this.epKeys.get(old.sid)?.get(old.region)?.delete(key);
      this.addCount(this.healthy, old.sid, old.region, -old.healthy);
      if (old.nonEmpty && this.addCount(this.runsIn, old.sid, old.region, -1) === 0)
        this.setRuns(old.sid, old.region, false);
    }
    if (next) {
      this.endpoints.set(key, next);
      getOrCreate(
        getOrCreate(this.epKeys, next.sid, () => new Map()),
        next.region,
        () => new Set(),
      ).add(key);
      this.addCount(this.healthy, next.sid, next.region, next.healthy);
      if (next.nonEmpty && this.addCount(this.runsIn, next.sid, next.region, 1) === 1)
        this.setRuns(next.sid, next.region, true);
    }
    for (const info of [old, next]) {
      if (!info) continue;
      this.mark(info.region, info.sid); // the local endpoints themselves
    }
    // Other regions see only the aggregate: tell them only when it changed.
    const aggregate = (i: EndpointsInfo | undefined) =>
      i ? `${i.sid}\0${i.region}\0${i.healthy}\0${i.nonEmpty}` : '';
    if (aggregate(old) !== aggregate(next)) {
      if (old) this.markNeeders(old.sid, old.region);
      if (next) this.markNeeders(next.sid, next.region);
    }
  }

  // ---- index maintenance

  /** A service starts or stops running in a region: it and its dependencies become (un)needed there. */
  private setRuns(s: Sid, region: string, runs: boolean): void {
    const local = getOrCreate(this.localSvcs, region, () => new Set());
    if (runs) local.add(s);
    else local.delete(s);
    for (const t of this.closure(s, this.deps.get(s))) this.addNeed(t, region, runs ? 1 : -1);
  }

  private setDeps(s: Sid, nextDeps: Set<Sid>): void {
    const prevDeps = this.deps.get(s) ?? new Set<Sid>();
    const prev = this.closure(s, prevDeps);
    const next = this.closure(s, nextDeps);
    for (const d of prevDeps) if (!nextDeps.has(d)) this.dependents.get(d)?.delete(s);
    for (const d of nextDeps) getOrCreate(this.dependents, d, () => new Set()).add(s);
    if (nextDeps.size) this.deps.set(s, nextDeps);
    else this.deps.delete(s);
    for (const [region, count] of this.runsIn.get(s) ?? []) {
      if (count === 0) continue;
      for (const t of prev) if (!next.has(t)) this.addNeed(t, region, -1);
      for (const t of next) if (!prev.has(t)) this.addNeed(t, region, 1);
    }
  }

  private closure(s: Sid, deps: Set<Sid> | undefined): Set<Sid> {
    return new Set([s, ...(deps ?? [])]);
  }

  private addNeed(t: Sid, region: string, delta: number): void {
    const n = this.addCount(this.need, t, region, delta);
    const set = getOrCreate(this.needed, region, () => new Set());
    if (n > 0) set.add(t);
    else set.delete(t);
    if ((delta > 0 && n === delta) || n === 0) this.mark(region, t);
  }

  private addCount(map: Map<Sid, Map<string, number>>, s: Sid, region: string, delta: number): number {
    const inner = getOrCreate(map, s, () => new Map());
    const n = (inner.get(region) ?? 0) + delta;
    if (n === 0) inner.delete(region);
    else inner.set(region, n);
    if (inner.size === 0) map.delete(s);
    return n;
  }

  /** Marks the service in every region that needs it, except `except`. */
  private markNeeders(s: Sid, except?: string): void {
    for (const region of this.need.get(s)?.keys() ?? []) if (region !== except) this.mark(region, s);
  }

  private mark(region: string, s: Sid): void {
    getOrCreate(this.dirty, region, () => new Set()).add(s);
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

import { sha256Hex } from '@fedmesh/shared';
import { PUSH_ORDER, TypeUrl, type XdsResources } from '../types.js';
import type { EncodedAny, XdsProtos } from './protos.js';

export interface SnapshotResource {
  readonly name: string;
  /** sha256 of the encoded resource: what "changed" means, and the per-resource version in delta xDS. */
  readonly hash: string;
  readonly any: EncodedAny;
}

export interface SnapshotType {
  /** Hash over all (name, resource hash) pairs of the type: equal hashes mean nothing to push. */
  readonly hash: string;
  readonly resources: ReadonlyMap<string, SnapshotResource>;
}

/** One immutable, encoded, consistent set of xDS resources for one region view. */
export interface Snapshot {
  /** `version_info` of every SotW response built from this snapshot: the view version. */
  readonly version: string;
  readonly viewVersion: number;
  readonly viewHash: string;
  readonly types: Readonly<Record<TypeUrl, SnapshotType>>;
  readonly warnings: readonly string[];
  /** `performance.now()` when the view was applied: where apply-to-push latency starts. */
  readonly appliedAt: number;
}

export function buildSnapshot(
  view: { version: number; hash: string },
  translated: XdsResources,
  protos: XdsProtos,
  appliedAt: number = performance.now(),
): Snapshot {
  const types = {} as Record<TypeUrl, SnapshotType>;
  for (const typeUrl of PUSH_ORDER) {
    const resources = new Map<string, SnapshotResource>();
    for (const { name, resource } of translated.resources[typeUrl]) {
      const any = protos.encodeAny(typeUrl, resource);
      resources.set(name, Object.freeze({ name, hash: sha256Hex(any.value), any }));
    }
    const names = [...resources.keys()].sort();
    const typeHash = sha256Hex(names.map((n) => `${n}\n${resources.get(n)!.hash}`).join('\n'));
    types[typeUrl] = Object.freeze({ hash: typeHash, resources });
  }
  return Object.freeze({
    version: String(view.version),
    viewVersion: view.version,
    viewHash: view.hash,
    types: Object.freeze(types),
    warnings: Object.freeze([...translated.warnings]),
    appliedAt,
  });
}

/**
 * Problems that would leave a proxy waiting for a resource nobody will send: a listener whose
 * route configuration is missing, a route to an unknown cluster, an EDS cluster without a load
 * assignment, or a name used twice. A snapshot with any of them is never served.
 */
export function checkConsistency(translated: XdsResources): string[] {
  const problems: string[] = [];
  const names = {} as Record<TypeUrl, Set<string>>;
  for (const typeUrl of PUSH_ORDER) {
    const seen = new Set<string>();
    for (const { name } of translated.resources[typeUrl]) {
      if (seen.has(name)) problems.push(`${shortType(typeUrl)} ${name} is defined twice`);
      seen.add(name);
    }
    names[typeUrl] = seen;
  }
  for (const { name, resource } of translated.resources[TypeUrl.Listener]) {
    for (const routeName of rdsNames(resource)) {
      if (!names[TypeUrl.RouteConfiguration].has(routeName)) {
        problems.push(`Listener ${name} uses RouteConfiguration ${routeName}, which does not exist`);
      }
    }
  }
  for (const { name, resource } of translated.resources[TypeUrl.RouteConfiguration]) {
    for (const cluster of routedClusters(resource)) {
      if (!names[TypeUrl.Cluster].has(cluster)) {
        problems.push(`RouteConfiguration ${name} routes to Cluster ${cluster}, which does not exist`);
      }
    }
  }
  for (const { name, resource } of translated.resources[TypeUrl.Cluster]) {
    if (resource.type !== 'EDS') continue;
    const eds = (resource.eds_cluster_config as { service_name?: string } | undefined)?.service_name || name;
    if (!names[TypeUrl.ClusterLoadAssignment].has(eds)) {
      problems.push(`Cluster ${name} reads endpoints ${eds}, which do not exist`);
    }
  }
  return problems;
}

function shortType(typeUrl: TypeUrl): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function rdsNames(listener: Obj): string[] {
  const managers: Obj[] = [];
  const api = asObj(asObj(listener.api_listener)?.api_listener);
  if (api) managers.push(api);
  for (const chain of [...asArr(listener.filter_chains), listener.default_filter_chain]) {
    for (const filter of asArr(asObj(chain)?.filters)) {
      const typed = asObj(asObj(filter)?.typed_config);
      if (typed) managers.push(typed);
    }
  }
  return managers
    .map((m) => asObj(m.rds)?.route_config_name)
    .filter((n): n is string => typeof n === 'string' && n !== '');
}

function routedClusters(routeConfig: Obj): string[] {
  const out: string[] = [];
  for (const vhost of asArr(routeConfig.virtual_hosts)) {
    for (const route of asArr(asObj(vhost)?.routes)) {
      const action = asObj(asObj(route)?.route);
      if (!action) continue;
      if (typeof action.cluster === 'string') out.push(action.cluster);
      for (const wc of asArr(asObj(action.weighted_clusters)?.clusters)) {
        const name = asObj(wc)?.name;
        if (typeof name === 'string') out.push(name);
      }
    }
  }
  return out;
}

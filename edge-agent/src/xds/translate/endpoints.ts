import { isIP } from 'node:net';
import { type Endpoint, endpointHealthy, endpointWeight, type LabelMap } from '@fedmesh/shared';
import type { EnvoyResource, NamedResource } from '../types.js';
import { u32 } from './envoy.js';
import { cmp, type ServiceModel } from './mesh.js';
import { clusterName } from './names.js';

/**
 * One ClusterLoadAssignment per cluster of the service.
 *
 * - Local endpoints come first (priority 0), one locality per zone. Unhealthy endpoints stay in,
 *   marked UNHEALTHY: Envoy then spills traffic to the next priority in proportion to the
 *   unhealthy share, and gRPC simply skips them. Endpoints with weight 0 are left out (drained).
 * - Each other region running the service is one locality holding its east-west gateway,
 *   weighted by that region's healthy endpoint count, at its own lower priority: first the
 *   regions of TrafficRoute.failover in that order, then the rest by name. A region with no
 *   healthy endpoint is left out.
 * - Gateways only go into the whole-service cluster. The gateway balances over all of the
 *   service's endpoints in its region and knows nothing of subsets, so sending a `v2` request
 *   there could land on `v1`: a subset cluster with no local endpoint fails rather than
 *   silently breaking the subset's promise (canary, version pinning).
 *
 * Priorities are dense (0, 1, 2, … with no gaps) because gRPC rejects a gap.
 * EDS needs IP addresses; hostnames are left out with a warning.
 */
export function buildLoadAssignments(
  svc: ServiceModel,
  region: string,
  warn: (m: string) => void,
): NamedResource[] {
  const out = [loadAssignment(svc, region, undefined, warn)];
  for (const subset of svc.policy?.spec.subsets ?? []) {
    out.push(loadAssignment(svc, region, { name: subset.name, labels: subset.labels }, warn));
  }
  return out;
}

interface SubsetSel {
  name: string;
  labels: LabelMap;
}

function loadAssignment(
  svc: ServiceModel,
  region: string,
  subset: SubsetSel | undefined,
  warn: (m: string) => void,
): NamedResource {
  const name = clusterName(svc.host, subset?.name);
  const seen = new Set<string>();
  const usable = (address: string, port: number, what: string): boolean => {
    if (isIP(address) === 0) {
      warn(`${name}: ${what} ${address}:${port} is not an IP address, which EDS requires; left out`);
      return false;
    }
    const key = `${address}|${port}`;
    if (seen.has(key)) {
      warn(`${name}: ${what} ${address}:${port} listed twice; kept once`);
      return false;
    }
    seen.add(key);
    return true;
  };

  const zones = new Map<string, Endpoint[]>();
  for (const ep of svc.endpoints) {
    if (subset && !matches(ep.labels, subset.labels)) continue;
    if (endpointWeight(ep) === 0) continue;
    const zone = ep.zone ?? '';
    zones.set(zone, [...(zones.get(zone) ?? []), ep]);
  }
  const localities: EnvoyResource[] = [];
  let priority = 0;
  for (const zone of [...zones.keys()].sort(cmp)) {
    const eps = zones
      .get(zone)!
      .filter((ep) => usable(ep.address, ep.port, 'endpoint'))
      .sort((a, b) => cmp(a.address, b.address) || a.port - b.port);
    if (eps.length === 0) continue;
    localities.push({
      locality: zone ? { region, zone } : { region },
      lb_endpoints: eps.map((ep) => ({
        endpoint: socket(ep.address, ep.port),
        health_status: endpointHealthy(ep) ? 'HEALTHY' : 'UNHEALTHY',
        load_balancing_weight: u32(endpointWeight(ep)),
      })),
      load_balancing_weight: u32(eps.reduce((sum, ep) => sum + endpointWeight(ep), 0)),
      priority,
    });
  }
  if (localities.length > 0) priority++;

  if (!subset) {
    for (const remote of remoteOrder(svc)) {
      if (remote.healthy <= 0) continue;
      const { address, port } = remote.gateway;
      if (!usable(address, port, `gateway of ${remote.region}`)) continue;
      localities.push({
        locality: { region: remote.region },
        lb_endpoints: [
          { endpoint: socket(address, port), health_status: 'HEALTHY', load_balancing_weight: u32(1) },
        ],
        load_balancing_weight: u32(remote.healthy),
        priority: priority++,
      });
    }
  }
  return { name, resource: { cluster_name: name, endpoints: localities } };
}

function remoteOrder(svc: ServiceModel): ServiceModel['remotes'] {
  const failover = svc.route?.spec.failover ?? [];
  const rank = (region: string): number => {
    const i = failover.indexOf(region);
    return i < 0 ? failover.length : i;
  };
  return [...svc.remotes].sort((a, b) => rank(a.region) - rank(b.region) || cmp(a.region, b.region));
}

function matches(labels: LabelMap | undefined, selector: LabelMap): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function socket(address: string, port: number): EnvoyResource {
  return { address: { socket_address: { address, port_value: port } } };
}

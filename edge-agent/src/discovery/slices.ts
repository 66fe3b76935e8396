/**
 * What a Kubernetes cluster's EndpointSlices say, as the agent's discovered endpoints
 * (DESIGN.md "Discovery and the uplink"). Pure: the informers in `kubernetes.ts` hand in what
 * they hold, this decides what it means.
 *
 * - A slice belongs to the Service named by its `kubernetes.io/service-name` label; the
 *   endpoint's namespace and service are the slice's namespace and that name. Slices without
 *   the label (hand-made ones) and FQDN slices are left out, as kube-proxy leaves them out (EDS
 *   takes IP addresses only).
 * - One endpoint per address, on the slice's first port. A fedmesh Service is one cluster whose
 *   endpoints each carry one port, so an endpoint per (address, port) would mix a Service's
 *   ports in one load-balancing pool. The EndpointSlice controller lists a slice's ports in the
 *   Service's order, so the first is the Service's first port whatever its target port resolves
 *   to in each pod. An endpoint's first address is its address (Kubernetes: the others are
 *   fungible and consumers use the first).
 * - Health: `ready`, which Kubernetes sets to "serving and not terminating". An absent
 *   condition means ready (the API's rule for unknown state). A terminating endpoint is
 *   unhealthy even while it still serves: it is draining, and kube-proxy only falls back to
 *   serving-terminating endpoints when nothing is ready, which fedmesh's priorities and other
 *   regions' gateways already cover. A Service with `publishNotReadyAddresses` marks every
 *   endpoint ready, and that is what is reported.
 * - Zone: `zone`, or for slices written by older controllers `deprecatedTopology`'s
 *   `topology.kubernetes.io/zone`.
 * - Labels: those of the pod behind the endpoint (`targetRef` of kind Pod), once the pod is
 *   known, so that TrafficPolicy subsets by `version` select Kubernetes endpoints as they do
 *   registered ones. The controllers' hash labels (`pod-template-hash` and the like) are
 *   dropped: they change with every rollout, nothing selects on them, and they would cost the
 *   uplink a report per pod per rollout.
 * - Several slices of one Service are merged; an address listed twice (an endpoint moving
 *   between slices, which Kubernetes allows for a moment) is kept once, healthy if either says so.
 */
import type { DiscoveredEndpoint } from './source.js';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const ZONE_LABEL = 'topology.kubernetes.io/zone';
const DROPPED_POD_LABELS = new Set([
  'pod-template-hash',
  'controller-revision-hash',
  'pod-template-generation',
]);

/** The parts of a `discovery.k8s.io/v1` EndpointSlice read here (the API's own field names). */
export interface EndpointSliceLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  addressType?: string;
  endpoints?: readonly {
    addresses?: readonly string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    targetRef?: { kind?: string; name?: string; namespace?: string };
    zone?: string;
    deprecatedTopology?: Record<string, string>;
  }[];
  ports?: readonly { name?: string; port?: number | null; protocol?: string }[] | null;
}

/** The labels of a pod, or undefined when it is not known (yet). */
export type PodLabels = (namespace: string, name: string) => Record<string, string> | undefined;

export function endpointsFromSlices(
  slices: Iterable<EndpointSliceLike>,
  podLabels: PodLabels,
): DiscoveredEndpoint[] {
  const byKey = new Map<string, DiscoveredEndpoint>();
  for (const slice of slices) {
    const namespace = slice.metadata?.namespace;
    const service = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!namespace || !service) continue;
    if (slice.addressType !== 'IPv4' && slice.addressType !== 'IPv6') continue;
    const port = slice.ports?.find((p) => typeof p.port === 'number' && p.port >= 1 && p.port <= 65535)?.port;
    if (!port) continue;
    for (const ep of slice.endpoints ?? []) {
      const address = ep.addresses?.[0];
      if (!address) continue;
      const healthy = ep.conditions?.ready !== false && ep.conditions?.terminating !== true;
      const zone = ep.zone ?? ep.deprecatedTopology?.[ZONE_LABEL];
      const ref = ep.targetRef;
      const labels =
        ref?.kind === 'Pod' && ref.name
          ? keptLabels(podLabels(ref.namespace ?? namespace, ref.name))
          : undefined;
      const found: DiscoveredEndpoint = {
        namespace,
        service,
        address,
        port,
        ...(zone ? { zone } : {}),
        ...(labels ? { labels } : {}),
        healthy,
      };
      const key = `${namespace}/${service}/${address}/${port}`;
      const seen = byKey.get(key);
      if (!seen || (healthy && !seen.healthy)) byKey.set(key, found);
    }
  }
  return [...byKey.values()].sort(
    (a, b) =>
      cmp(a.namespace, b.namespace) ||
      cmp(a.service, b.service) ||
      cmp(a.address, b.address) ||
      a.port - b.port,
  );
}

function keptLabels(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!labels) return undefined;
  const kept = Object.entries(labels)
    .filter(([k]) => !DROPPED_POD_LABELS.has(k))
    .sort(([a], [b]) => cmp(a, b));
  return kept.length > 0 ? Object.fromEntries(kept) : undefined;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

import type { LoadBalancer, ResourceOf } from '@fedmesh/shared';
import type { EnvoyResource, NamedResource } from '../types.js';
import { ADS_CONFIG_SOURCE, AnyType, protoDuration, u32 } from './envoy.js';
import type { ServiceModel } from './mesh.js';
import { clusterName } from './names.js';

type PolicySpec = ResourceOf<'TrafficPolicy'>['spec'];

/** One cluster per subset of the service's TrafficPolicy, plus the whole service. */
export function buildClusters(svc: ServiceModel): NamedResource[] {
  const policy = svc.policy?.spec;
  const names = [clusterName(svc.host), ...(policy?.subsets ?? []).map((s) => clusterName(svc.host, s.name))];
  return names.map((name) => ({ name, resource: cluster(name, policy) }));
}

function cluster(name: string, policy: PolicySpec | undefined): EnvoyResource {
  const out: EnvoyResource = {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE, service_name: name },
    // Envoy weighs localities only when asked to; gRPC always does. Same behaviour for both.
    common_lb_config: { locality_weighted_lb_config: {} },
    ...loadBalancing(policy?.loadBalancer ?? 'round_robin'),
  };
  const cb = policy?.circuitBreaker;
  if (cb) {
    const threshold: EnvoyResource = { priority: 'DEFAULT' };
    if (cb.maxConnections !== undefined) threshold.max_connections = u32(cb.maxConnections);
    if (cb.maxPendingRequests !== undefined) threshold.max_pending_requests = u32(cb.maxPendingRequests);
    // The only threshold proxyless gRPC honours (as its max concurrent requests).
    if (cb.maxRequests !== undefined) threshold.max_requests = u32(cb.maxRequests);
    if (cb.maxRetries !== undefined) threshold.max_retries = u32(cb.maxRetries);
    out.circuit_breakers = { thresholds: [threshold] };
  }
  const od = policy?.outlierDetection;
  if (od) {
    const detection: EnvoyResource = {
      // Success-rate ejection is on by default in Envoy and gRPC; the model does not ask for it.
      enforcing_success_rate: u32(0),
    };
    if (od.consecutive5xx !== undefined) {
      if (od.consecutive5xx === 0) detection.enforcing_consecutive_5xx = u32(0);
      else detection.consecutive_5xx = u32(od.consecutive5xx);
    }
    if (od.interval !== undefined) detection.interval = protoDuration(od.interval);
    if (od.baseEjectionTime !== undefined) detection.base_ejection_time = protoDuration(od.baseEjectionTime);
    if (od.maxEjectionPercent !== undefined) detection.max_ejection_percent = u32(od.maxEjectionPercent);
    out.outlier_detection = detection;
  }
  return out;
}

const anyOf = (type: string, fields: Record<string, unknown> = {}) => ({ '@type': type, ...fields });
const policy = (name: string, typedConfig: Record<string, unknown>) => ({
  typed_extension_config: { name, typed_config: typedConfig },
});
/**
 * Envoy's typed policies read their locality settings from their own config, not from
 * `common_lb_config`: without this, Envoy would ignore the locality weights that gRPC always
 * applies (the other regions' gateway weights among them).
 */
const LOCALITY_WEIGHTED = { locality_lb_config: { locality_weighted_lb_config: {} } };
/** gRPC's round robin: weighted across localities (by locality weight), round robin within one. */
const grpcRoundRobin = policy(
  'envoy.load_balancing_policies.wrr_locality',
  anyOf(AnyType.WrrLocality, {
    endpoint_picking_policy: {
      policies: [policy('envoy.load_balancing_policies.round_robin', anyOf(AnyType.RoundRobin))],
    },
  }),
);
/** gRPC accepts XX_HASH only (and NACKs anything else); Envoy's default too. */
const RING_HASH_LB_CONFIG = { hash_function: 'XX_HASH' };

/**
 * Each balancer in two forms, since clients read different fields (the table in docs/xds.md):
 * - `lb_policy`, the enum, for a client that does not read `load_balancing_policy` (C-core
 *   before about 1.55 without GRPC_EXPERIMENTAL_XDS_CUSTOM_LB_CONFIG=true, an Envoy older than
 *   the typed policies). Proxyless gRPC accepts only ROUND_ROBIN and RING_HASH there and NACKs
 *   the cluster for anything else ("LB policy is not supported"), so least_request, random and
 *   maglev carry ROUND_ROBIN. Not RING_HASH for maglev: without a hash policy on the route
 *   (the model has none), gRPC's ring hash picks a random endpoint per call, no better than round
 *   robin, and the one such client tested (Debian bookworm's grpcio 1.51.1) crashes on a call
 *   through a ring hash cluster.
 * - `load_balancing_policy`, a preference list from which Envoy and gRPC each take the first
 *   policy they implement (gRFC A52), and which supersedes the enum where it is read. The
 *   asked-for policy comes first, gRPC's nearest one after it; never the other way round:
 *   current Envoy knows wrr_locality too, but only over client-side weighted round robin, and
 *   rejects the cluster when it finds round robin inside.
 * round_robin and ring_hash need no list: the enum says them to every client.
 */
function loadBalancing(lb: LoadBalancer): EnvoyResource {
  switch (lb) {
    case 'round_robin':
      return { lb_policy: 'ROUND_ROBIN' };
    case 'ring_hash':
      return { lb_policy: 'RING_HASH', ring_hash_lb_config: RING_HASH_LB_CONFIG };
    case 'least_request':
      return {
        lb_policy: 'ROUND_ROBIN',
        load_balancing_policy: {
          policies: [
            policy(
              'envoy.load_balancing_policies.least_request',
              anyOf(AnyType.LeastRequest, LOCALITY_WEIGHTED),
            ),
            grpcRoundRobin,
          ],
        },
      };
    case 'random':
      return {
        lb_policy: 'ROUND_ROBIN',
        load_balancing_policy: {
          policies: [
            policy('envoy.load_balancing_policies.random', anyOf(AnyType.Random, LOCALITY_WEIGHTED)),
            grpcRoundRobin,
          ],
        },
      };
    case 'maglev':
      return {
        lb_policy: 'ROUND_ROBIN',
        load_balancing_policy: {
          policies: [
            policy(
              'envoy.load_balancing_policies.maglev',
              anyOf(AnyType.Maglev, { locality_weighted_lb_config: {} }),
            ),
            policy('envoy.load_balancing_policies.ring_hash', anyOf(AnyType.RingHash, RING_HASH_LB_CONFIG)),
          ],
        },
      };
  }
}

import { Histogram } from 'prom-client';
import { TypeUrl } from '../types.js';
import type { XdsPush } from './proxies.js';

const SHORT: Record<string, string> = {
  [TypeUrl.Cluster]: 'cds',
  [TypeUrl.ClusterLoadAssignment]: 'eds',
  [TypeUrl.Listener]: 'lds',
  [TypeUrl.RouteConfiguration]: 'rds',
};

export interface ApplyToPushHistogram {
  readonly metric: Histogram<'type'>;
  observe(push: XdsPush): void;
}

/**
 * `fedmesh_agent_apply_to_push_seconds`: how long after a verified view is applied its responses
 * reach the proxies' streams, one observation per pushed response. It is the agent's own share of
 * the hub-PUT-to-proxy delay; translation and encoding of a large view show up here first.
 * Registered by the caller (the metric is created before the agent's registry exists).
 */
export function createApplyToPushHistogram(): ApplyToPushHistogram {
  const metric = new Histogram({
    name: 'fedmesh_agent_apply_to_push_seconds',
    help: 'Time from applying a verified view to writing each xDS response it caused, per resource type',
    labelNames: ['type'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [],
  });
  return {
    metric,
    observe(push) {
      metric.observe({ type: SHORT[push.typeUrl] ?? 'other' }, push.sinceApplyMs / 1000);
    },
  };
}

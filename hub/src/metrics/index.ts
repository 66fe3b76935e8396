import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** The hub's Prometheus metrics, on a registry of their own (no global state between tests). */
export interface HubMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  storeOps: Counter<'op' | 'result'>;
  syncBytes: Gauge<'region'>;
  syncMessages: Gauge<'region' | 'type'>;
  regionLagVersions: Gauge<'region'>;
}

export function createHubMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fedmesh_hub_' });
  return {
    registry,
    httpRequests: new Counter({
      name: 'fedmesh_hub_http_requests_total',
      help: 'Admin API requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'fedmesh_hub_http_request_duration_seconds',
      help: 'Admin API latency',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    storeOps: new Counter({
      name: 'fedmesh_hub_store_operations_total',
      help: 'Config store operations by kind of operation and result',
      labelNames: ['op', 'result'],
      registers: [registry],
    }),
    syncBytes: new Gauge({
      name: 'fedmesh_hub_sync_bytes_sent',
      help: 'Bytes published on a region sync subject since start (payload and headers)',
      labelNames: ['region'],
      registers: [registry],
    }),
    syncMessages: new Gauge({
      name: 'fedmesh_hub_sync_publications',
      help: 'Snapshots and deltas published per region since start',
      labelNames: ['region', 'type'],
      registers: [registry],
    }),
    regionLagVersions: new Gauge({
      name: 'fedmesh_hub_region_lag_versions',
      help: 'Desired version minus the version the region reports applied',
      labelNames: ['region'],
      registers: [registry],
    }),
  };
}

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { OutgoingMessage } from '../sync/encoder.js';
import type { PublishResult } from '../sync/publisher.js';
import { createLineLedger, type LineLedger } from './line.js';

export { createLineLedger, type LineLedger } from './line.js';

/** One region's line as `/metrics` shows it; the same figures as `GET /v1/regions/{region}`. */
export interface RegionLineFigures {
  region: string;
  budgetBytesPerSecond: number | null;
  burstBytes: number | null;
  /** Line bytes the region's agent reports receiving, its recent rate, and that rate over the budget. */
  bytesReceived: number | null;
  receiveRate: number | null;
  utilization: number | null;
  queuedBytes: number;
  drainSeconds: number | null;
  compressionRatio: number | null;
  /** The hub holds the region's intermediate states while its queue drains. */
  holding: boolean;
  /** The region's agent-owned endpoints are kept but its agent has gone silent. */
  endpointsStale: boolean;
}

/** The hub's Prometheus metrics, on a registry of their own (no global state between tests). */
export interface HubMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  storeOps: Counter<'op' | 'result'>;
  syncBytes: Gauge<'region'>;
  syncMessages: Gauge<'region' | 'type'>;
  regionLagVersions: Gauge<'region'>;
  /** The engine's `onChangesPublished`: from a config change to its last region's publication. */
  changesPublished(waitedMs: readonly number[]): void;
  /** What was published per region and what of it the region's line has yet to carry. */
  line: LineLedger;
  /** The engine's `onPublished`: feeds the ledger and the publication gauges. */
  published(
    region: string,
    kind: 'delta' | 'snapshot',
    result: PublishResult,
    rawBytes: number,
    messages: readonly OutgoingMessage[],
  ): void;
  /** Where the per-region line gauges read their figures at scrape time (the regions API). */
  setRegionSource(source: () => RegionLineFigures[]): void;
}

export function createHubMetrics(): HubMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fedmesh_hub_' });
  const line = createLineLedger();
  let source: () => RegionLineFigures[] = () => [];
  const regionGauge = (name: string, help: string, read: (f: RegionLineFigures) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['region'],
      registers: [registry],
      collect() {
        this.reset();
        for (const f of source()) {
          const v = read(f);
          if (v !== null) this.set({ region: f.region }, v);
        }
      },
    });
  regionGauge(
    'fedmesh_hub_region_budget_bytes_per_second',
    'Line budget of the region: what its agent enforces, else the Region link.budget',
    (f) => f.budgetBytesPerSecond,
  );
  regionGauge('fedmesh_hub_region_burst_bytes', 'Burst allowance of the region line', (f) => f.burstBytes);
  regionGauge(
    'fedmesh_hub_region_line_bytes_received',
    'Line bytes the region agent reports receiving since it started',
    (f) => f.bytesReceived,
  );
  regionGauge(
    'fedmesh_hub_region_receive_rate_bytes_per_second',
    'Line bytes per second the region agent last reported (5 s window)',
    (f) => f.receiveRate,
  );
  regionGauge(
    'fedmesh_hub_region_utilization_ratio',
    'Reported receive rate over the budget of the region line',
    (f) => f.utilization,
  );
  regionGauge(
    'fedmesh_hub_region_queued_bytes',
    'Sync bytes published for the region that its agent has not consumed yet',
    (f) => f.queuedBytes,
  );
  regionGauge(
    'fedmesh_hub_region_drain_seconds',
    'Time the region budget needs to carry the queued bytes',
    (f) => f.drainSeconds,
  );
  regionGauge(
    'fedmesh_hub_region_holding',
    '1 while the hub holds the region intermediate states until its queue drains (coalescing under throttle)',
    (f) => (f.holding ? 1 : 0),
  );
  regionGauge(
    'fedmesh_hub_region_endpoints_stale',
    "1 while the region's agent-owned endpoints are kept although its agent has been silent past --endpoints-stale-after",
    (f) => (f.endpointsStale ? 1 : 0),
  );
  regionGauge(
    'fedmesh_hub_sync_compression_ratio',
    'Uncompressed over compressed payload bytes published for the region',
    (f) => f.compressionRatio,
  );
  const syncBytes = new Gauge({
    name: 'fedmesh_hub_sync_bytes_sent',
    help: 'Bytes published on a region sync subject since start (payload and headers)',
    labelNames: ['region'],
    registers: [registry],
  });
  const syncMessages = new Gauge({
    name: 'fedmesh_hub_sync_publications',
    help: 'Snapshots and deltas published per region since start',
    labelNames: ['region', 'type'],
    registers: [registry],
  });
  return {
    registry,
    line,
    setRegionSource(next) {
      source = next;
    },
    published(region, kind, result, rawBytes, messages) {
      const payloadBytes = messages.reduce((n, m) => n + m.data.byteLength, 0);
      line.record(region, { result, payloadBytes, rawBytes });
      syncBytes.set({ region }, line.totals(region).bytesSent);
      syncMessages.inc({ region, type: kind });
    },
    syncBytes,
    syncMessages,
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
    changesPublished: (() => {
      const h = new Histogram({
        name: 'fedmesh_hub_change_publish_seconds',
        help: 'From a config change reaching the hub to its publication for every region it reached',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10],
        registers: [registry],
      });
      return (waitedMs: readonly number[]) => {
        for (const ms of waitedMs) h.observe(ms / 1000);
      };
    })(),
    storeOps: new Counter({
      name: 'fedmesh_hub_store_operations_total',
      help: 'Config store operations by kind of operation and result',
      labelNames: ['op', 'result'],
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

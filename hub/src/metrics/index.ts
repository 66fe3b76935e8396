import { collectProcessMetrics, readCounter, registerBuildInfo } from '@fedmesh/shared';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OutgoingMessage } from '../sync/encoder.js';
import type { PublishResult } from '../sync/publisher.js';
import { createLineLedger, type LineLedger } from './line.js';

export { createLineLedger, type LineLedger } from './line.js';

/**
 * One region's figures as `/metrics` shows them: the same numbers as `GET /v1/regions/{region}`,
 * read from it at scrape time, so the two never disagree and nothing waits for a REST call.
 */
export interface RegionFigures {
  region: string;
  budgetBytesPerSecond: number | null;
  burstBytes: number | null;
  /** Line bytes the region's agent reports receiving since it started, its recent rate, and that rate over the budget. */
  lineBytesReceived: number | null;
  receiveRate: number | null;
  utilization: number | null;
  queuedBytes: number;
  drainSeconds: number | null;
  compressionRatio: number | null;
  /** The hub holds the region's intermediate states while its queue drains. */
  holding: boolean;
  /** The region's agent-owned endpoints are kept but its agent has gone silent. */
  endpointsStale: boolean;
  /** What this hub put on the region's subject since it started (`bytesSent`, `snapshotsSent`, `deltasSent`). */
  bytesSent: number;
  snapshotsSent: number;
  deltasSent: number;
  /** NACKs the region's proxies sent since its agent started; null until the agent reports. */
  nacks: number | null;
  /** Desired version minus the applied one (0 in sync), and how long the hashes have differed. */
  lagVersions: number;
  driftSeconds: number;
  /** The agent has not reported within the hub's --stale-after heartbeats. */
  stale: boolean;
}

/** The hub's Prometheus metrics, on a registry of their own (no global state between tests). */
export interface HubMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  storeOps: Counter<'op' | 'result'>;
  storeDuration: Histogram<'op'>;
  /** The engine's `onChangesPublished`: from a config change to its last region's publication. */
  changesPublished(waitedMs: readonly number[]): void;
  /** One publication round took this long. */
  publicationRound(ms: number): void;
  /** What was published per region and what of it the region's line has yet to carry. */
  line: LineLedger;
  /** The engine's `onPublished`: feeds the ledger. */
  published(
    region: string,
    kind: 'delta' | 'snapshot',
    result: PublishResult,
    rawBytes: number,
    messages: readonly OutgoingMessage[],
  ): void;
  /** Where the per-region series read their figures at scrape time (the regions API). */
  setRegionSource(source: () => RegionFigures[]): void;
}

export function createHubMetrics(): HubMetrics {
  const registry = new Registry();
  collectProcessMetrics(registry, 'fedmesh_hub_');
  registerBuildInfo(registry);
  const line = createLineLedger();
  let source: () => RegionFigures[] = () => [];
  // Every collector of one scrape runs in the same tick (prom-client calls them all before it
  // awaits any): the regions are summed up once per scrape, not once per series.
  let scraped: RegionFigures[] | undefined;
  const figures = () => {
    if (!scraped) {
      scraped = source();
      queueMicrotask(() => {
        scraped = undefined;
      });
    }
    return scraped;
  };
  const regionGauge = (name: string, help: string, read: (f: RegionFigures) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['region'],
      registers: [registry],
      collect() {
        this.reset();
        for (const f of figures()) {
          const v = read(f);
          if (v !== null) this.set({ region: f.region }, v);
        }
      },
    });
  const regionCounter = (name: `${string}_total`, help: string, read: (f: RegionFigures) => number | null) =>
    readCounter({
      name,
      help,
      labelNames: ['region'],
      registry,
      read(add) {
        for (const f of figures()) {
          const v = read(f);
          if (v !== null) add(v, { region: f.region });
        }
      },
    });
  regionGauge(
    'fedmesh_hub_region_lag_versions',
    'Desired version minus the version the region reports applied; 0 while its hash is the desired one',
    (f) => f.lagVersions,
  );
  regionGauge(
    'fedmesh_hub_region_drift_seconds',
    "How long the region agent's applied hash has differed from the desired one; 0 in sync",
    (f) => f.driftSeconds,
  );
  regionGauge(
    'fedmesh_hub_region_stale',
    '1 while the region agent has not reported within --stale-after heartbeats (or never has)',
    (f) => (f.stale ? 1 : 0),
  );
  regionGauge(
    'fedmesh_hub_region_budget_bytes_per_second',
    'Line budget of the region: what its agent enforces, else the Region link.budget',
    (f) => f.budgetBytesPerSecond,
  );
  regionGauge('fedmesh_hub_region_burst_bytes', 'Burst allowance of the region line', (f) => f.burstBytes);
  regionCounter(
    'fedmesh_hub_region_line_bytes_received_total',
    'Line bytes the region agent reports receiving since it started (resets with the agent)',
    (f) => f.lineBytesReceived,
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
  regionCounter(
    'fedmesh_hub_region_nacks_total',
    'NACKs from the region proxies since its agent started, as the agent reports them (resets with the agent)',
    (f) => f.nacks,
  );
  regionGauge(
    'fedmesh_hub_sync_compression_ratio',
    'Uncompressed over compressed payload bytes published for the region',
    (f) => f.compressionRatio,
  );
  regionCounter(
    'fedmesh_hub_sync_bytes_sent_total',
    'Bytes this hub put on the region sync subject since it started (payload and headers; JetStream duplicates excluded); bytesSent in GET /v1/regions',
    (f) => f.bytesSent,
  );
  readCounter({
    name: 'fedmesh_hub_sync_publications_total',
    help: 'Snapshots and deltas this hub put on the region sync subject since it started (JetStream duplicates excluded)',
    labelNames: ['region', 'type'],
    registry,
    read(add) {
      for (const f of figures()) {
        add(f.snapshotsSent, { region: f.region, type: 'snapshot' });
        add(f.deltasSent, { region: f.region, type: 'delta' });
      }
    },
  });
  return {
    registry,
    line,
    setRegionSource(next) {
      source = next;
    },
    published(region, _kind, result, rawBytes, messages) {
      const payloadBytes = messages.reduce((n, m) => n + m.data.byteLength, 0);
      line.record(region, { result, payloadBytes, rawBytes });
    },
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
    publicationRound: (() => {
      const h = new Histogram({
        name: 'fedmesh_hub_sync_round_seconds',
        help: 'Publication rounds: from the flush of the changes they carry to the last region on the stream',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5],
        registers: [registry],
      });
      return (ms: number) => h.observe(ms / 1000);
    })(),
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
    storeDuration: new Histogram({
      name: 'fedmesh_hub_store_operation_seconds',
      help: 'Config store and audit operations from call to answer (JetStream round trip and queueing), by kind of operation',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
  };
}

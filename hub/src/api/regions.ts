import {
  ErrorCode,
  FedmeshError,
  invalid,
  isDnsLabel,
  type ProxyReport,
  regionLinkOf,
} from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import type { RegionLineFigures } from '../metrics/index.js';
import { createOutOfSyncTracker } from '../regions/out-of-sync.js';
import type { ApiDeps } from './server.js';

/**
 * The region's line: the budget in force, what the agent says it receives, what waits on the
 * stream for it and how long the budget needs to carry that.
 */
export interface RegionLine {
  /** What the agent enforces (the Region's budget, or lower by its flag); the Region's until it reports. */
  budgetBytesPerSecond: number | null;
  burstBytes: number | null;
  budgetSource: 'agent' | 'region' | null;
  /** Line bytes the agent reports receiving since it started, and its rate over the last 5 s. */
  bytesReceived: number | null;
  receiveRate: number | null;
  /** That rate over the budget (1 = the whole budget); null while the agent is silent. */
  utilization: number | null;
  /** Sync bytes this hub published for the region that the agent has not consumed yet. */
  queuedBytes: number;
  queuedMessages: number | null;
  /** Queued bytes over the budget. */
  drainSeconds: number | null;
  /** Uncompressed over compressed payload bytes published for the region since this hub started. */
  compressionRatio: number | null;
  /** A chunked payload the agent is receiving: chunks on its disk so far, of how many. */
  transfer: { toVersion: number; chunks: number; count: number } | null;
  /**
   * Coalescing under throttle: since when the hub holds the region's intermediate states while
   * its queue drains (null when it does not), and how many publication rounds were merged so.
   */
  holdingSince: string | null;
  coalescedRounds: number;
}

/** What `GET /v1/regions/{region}` shows: desired against applied, and how the line is doing. */
export interface RegionSummary {
  region: string;
  desired: { version: number; hash: string };
  applied: { version: number; hash: string } | null;
  inSync: boolean;
  /**
   * Since when applied has differed from desired, as this hub has seen it (null when in sync):
   * unlike `lag.seconds` it does not restart at each publication, so it tells drift from lag.
   */
  outOfSyncSince: string | null;
  lag: { versions: number; seconds: number };
  stale: boolean;
  lastReportAt: string | null;
  bytesSent: number;
  snapshotsSent: number;
  deltasSent: number;
  budget: { bytesPerSecond: number | null; burstBytes: number | null };
  connectedProxies: number;
  nacks: number;
  agent: { id: string; bytesReceived: number; rejected: number; resyncs: number; codecs: string[] } | null;
  line: RegionLine;
  /**
   * The endpoints the region's agent discovered and the hub holds: kept when the agent goes
   * silent, and `stale` once it has said nothing (no status, no report) for the hub's
   * `--endpoints-stale-after`.
   */
  discovery: { services: number; lastReportAt: string | null; stale: boolean };
  lastError: string | null;
}

export function registerRegionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const outOfSync = deps.outOfSync ?? createOutOfSyncTracker();
  const summary = (region: string): RegionSummary => {
    const view = deps.engine.view(region);
    if (!view) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
    const stats = deps.engine.stats(region);
    const received = deps.status.get(region);
    const report = received?.report;
    const link = regionLinkOf(deps.engine.resource({ kind: 'Region', namespace: '_', name: region }));
    const inSync = report?.hash === view.hash;
    const now = Date.now();
    const stale =
      !received ||
      now - received.receivedAt.getTime() > deps.staleAfterHeartbeats * report!.heartbeatSeconds * 1000;
    const publishedAt = stats?.lastPublishedAt?.getTime();
    const outSince = outOfSync.observe(region, { inSync, now, publishedAt });
    const regionBudget = link?.bytesPerSecond ?? null;
    const regionBurst = link?.burstBytes ?? null;
    deps.metrics.regionLagVersions.set(
      { region },
      report ? Math.max(0, view.version - report.version) : view.version,
    );
    return {
      region,
      desired: { version: view.version, hash: view.hash },
      applied: report ? { version: report.version, hash: report.hash } : null,
      inSync,
      outOfSyncSince: outSince === undefined ? null : new Date(outSince).toISOString(),
      lag: {
        versions: inSync ? 0 : Math.max(0, view.version - (report?.version ?? 0)),
        seconds: inSync || publishedAt === undefined ? 0 : Math.round((now - publishedAt) / 100) / 10,
      },
      stale,
      lastReportAt: received ? received.receivedAt.toISOString() : null,
      bytesSent: stats?.bytesSent ?? 0,
      snapshotsSent: stats?.snapshotsSent ?? 0,
      deltasSent: stats?.deltasSent ?? 0,
      budget: { bytesPerSecond: regionBudget, burstBytes: regionBurst },
      connectedProxies: report?.proxies ?? 0,
      nacks: report?.nacks ?? 0,
      agent: report
        ? {
            id: report.agentId,
            bytesReceived: report.bytesReceived,
            rejected: report.rejected,
            resyncs: report.resyncs,
            codecs: report.acceptedCodecs,
          }
        : null,
      line: lineOf(deps, region, report && !stale ? report : undefined, regionBudget, regionBurst),
      discovery: discoveryOf(deps, region, received?.receivedAt, now),
      lastError: report?.lastError ?? stats?.lastError ?? null,
    };
  };
  deps.metrics.setRegionSource(() => deps.engine.regions().map((r) => lineFigures(summary(r))));

  const checkName = (region: string) => {
    if (!isDnsLabel(region)) throw invalid([{ path: 'region', message: 'must be a DNS-1123 label' }]);
    return region;
  };

  app.get('/v1/regions', async () => {
    const regions = deps.engine.regions();
    outOfSync.retain(regions);
    return { items: regions.map(summary) };
  });
  app.get<{ Params: { region: string } }>('/v1/regions/:region', async (req) =>
    summary(checkName(req.params.region)),
  );
  app.get<{ Params: { region: string } }>('/v1/regions/:region/proxies', async (req) => {
    const region = checkName(req.params.region);
    if (!deps.engine.view(region)) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
    const received = deps.status.get(region);
    const stale =
      !received ||
      Date.now() - received.receivedAt.getTime() >
        deps.staleAfterHeartbeats * received.report.heartbeatSeconds * 1000;
    const served = received ? String(received.report.version) : undefined;
    return {
      items: (received?.proxies?.items ?? []).map((p) => proxyItem(region, p, served, stale)),
    };
  });
  app.get<{ Params: { region: string } }>('/v1/regions/:region/view', async (req) => {
    const region = checkName(req.params.region);
    await deps.engine.flush();
    const view = deps.engine.view(region);
    if (!view) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
    return view;
  });
}

type Report = NonNullable<ReturnType<ApiDeps['status']['get']>>['report'];

/** What `GET /v1/regions/{region}/proxies` shows of one proxy (`fedmeshctl proxies`). */
export interface ProxySummary {
  node: string;
  region: string;
  client: string | null;
  protocol: string;
  connectedAt: string;
  acked: Record<string, string>;
  subscribed: Record<string, number>;
  nacks: number;
  lastNack: ProxyReport['lastNack'] | null;
  /**
   * SYNCED: every type it subscribes to ACKed the version its agent serves; NACKED: it rejected
   * that version; STALE: it is behind, or its agent has not reported for a while.
   */
  state: 'SYNCED' | 'STALE' | 'NACKED';
}

function proxyItem(region: string, p: ProxyReport, served: string | undefined, stale: boolean): ProxySummary {
  const types = Object.keys(p.subscribed).length > 0 ? Object.keys(p.subscribed) : Object.keys(p.acked);
  const nacked =
    p.lastNack !== undefined && p.lastNack.version === served && p.acked[p.lastNack.typeUrl] !== served;
  const synced = !stale && types.length > 0 && types.every((t) => p.acked[t] === served);
  return {
    node: p.node,
    region,
    client: p.client ?? null,
    protocol: p.protocol,
    connectedAt: p.connectedAt,
    acked: p.acked,
    subscribed: p.subscribed,
    nacks: p.nacks,
    lastNack: p.lastNack ?? null,
    state: nacked ? 'NACKED' : synced ? 'SYNCED' : 'STALE',
  };
}

function lineOf(
  deps: ApiDeps,
  region: string,
  report: Report | undefined,
  regionBudget: number | null,
  regionBurst: number | null,
): RegionLine {
  const fromAgent = report?.budgetBytesPerSecond !== undefined;
  const budget = fromAgent ? report!.budgetBytesPerSecond! : regionBudget;
  const queuedBytes = deps.metrics.line.queuedBytes(region, report?.streamSeq);
  const stats = deps.engine.stats(region);
  const totals = deps.metrics.line.totals(region);
  return {
    budgetBytesPerSecond: budget,
    burstBytes: fromAgent ? (report!.burstBytes ?? null) : regionBurst,
    budgetSource: fromAgent ? 'agent' : budget === null ? null : 'region',
    bytesReceived: report ? report.lineBytesReceived : null,
    receiveRate: report?.receiveRate ?? null,
    utilization: report?.utilization ?? null,
    queuedBytes,
    queuedMessages: report?.queuedMessages ?? null,
    drainSeconds: budget ? Math.round((queuedBytes / budget) * 10) / 10 : null,
    compressionRatio:
      totals.payloadBytes > 0 ? Math.round((totals.rawBytes / totals.payloadBytes) * 100) / 100 : null,
    transfer: report?.spool ?? null,
    holdingSince: stats?.holdingSince?.toISOString() ?? null,
    coalescedRounds: stats?.coalescedRounds ?? 0,
  };
}

const startedAt = Date.now();
const DEFAULT_ENDPOINTS_STALE_AFTER_MS = 180_000;

function discoveryOf(
  deps: ApiDeps,
  region: string,
  statusAt: Date | undefined,
  now: number,
): RegionSummary['discovery'] {
  const d = deps.discovery?.(region);
  const services = d?.services ?? 0;
  // Any word from the agent proves it is there: a status heartbeat or an endpoints report.
  const heard = Math.max(statusAt?.getTime() ?? 0, d?.lastReportAt?.getTime() ?? 0);
  const limit = deps.endpointsStaleAfterMs ?? DEFAULT_ENDPOINTS_STALE_AFTER_MS;
  // Before the agent first speaks to this hub, the hub's own start is the clock.
  const silentFor = now - (heard > 0 ? heard : startedAt);
  return {
    services,
    lastReportAt: d?.lastReportAt?.toISOString() ?? null,
    stale: services > 0 && silentFor > limit,
  };
}

function lineFigures(s: RegionSummary): RegionLineFigures {
  return {
    region: s.region,
    budgetBytesPerSecond: s.line.budgetBytesPerSecond,
    burstBytes: s.line.burstBytes,
    bytesReceived: s.line.bytesReceived,
    receiveRate: s.line.receiveRate,
    utilization: s.line.utilization,
    queuedBytes: s.line.queuedBytes,
    drainSeconds: s.line.drainSeconds,
    compressionRatio: s.line.compressionRatio,
    holding: s.line.holdingSince !== null,
    endpointsStale: s.discovery.stale,
  };
}

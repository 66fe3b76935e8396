import { ErrorCode, FedmeshError, type ProxyReport, regionLinkOf } from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { createDriftClock } from '../../metrics/drift.js';
import type { RegionFigures } from '../../metrics/index.js';
import type { ApiDeps } from '../deps.js';
import { type ProxySummary, type RegionLine, type RegionSummary, schemas } from './schemas.js';

export type { ProxySummary, RegionLine, RegionSummary };

export function registerRegionRoutes(root: FastifyInstance, deps: ApiDeps): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const drift = createDriftClock();
  const summary = (region: string): RegionSummary => {
    const view = deps.engine.head(region);
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
    const regionBudget = link?.bytesPerSecond ?? null;
    const regionBurst = link?.burstBytes ?? null;
    const holdingSince = stats?.holdingSince?.getTime();
    const oldestUnconsumed = deps.metrics.line.oldestAfter(region, report?.streamSeq);
    const evidence = Math.min(oldestUnconsumed ?? Infinity, holdingSince ?? Infinity);
    const drifting = drift.observe(region, inSync, Number.isFinite(evidence) ? evidence : undefined, now);
    return {
      region,
      desired: { version: view.version, hash: view.hash },
      applied: report ? { version: report.version, hash: report.hash } : null,
      inSync,
      lag: {
        versions: inSync ? 0 : Math.max(0, view.version - (report?.version ?? 0)),
        seconds: inSync || publishedAt === undefined ? 0 : Math.round((now - publishedAt) / 100) / 10,
      },
      drift: {
        since: drifting.since === null ? null : new Date(drifting.since).toISOString(),
        seconds: drifting.seconds,
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
  deps.metrics.setRegionSource(() => deps.engine.regions().map((r) => regionFigures(summary(r))));

  app.get('/v1/regions', { schema: schemas.list }, async () => ({
    items: deps.engine.regions().map(summary),
  }));
  app.get('/v1/regions/:region', { schema: schemas.get }, async (req) => summary(req.params.region));
  app.get('/v1/regions/:region/proxies', { schema: schemas.proxies }, async (req) => {
    const { region } = req.params;
    if (!deps.engine.head(region)) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
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
  app.get('/v1/regions/:region/view', { schema: schemas.view }, async (req) => {
    const { region } = req.params;
    await deps.engine.flush();
    const view = deps.engine.view(region);
    if (!view) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
    return view;
  });
}

type Report = NonNullable<ReturnType<ApiDeps['status']['get']>>['report'];

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

function regionFigures(s: RegionSummary): RegionFigures {
  return {
    region: s.region,
    budgetBytesPerSecond: s.line.budgetBytesPerSecond,
    burstBytes: s.line.burstBytes,
    lineBytesReceived: s.line.bytesReceived,
    receiveRate: s.line.receiveRate,
    utilization: s.line.utilization,
    queuedBytes: s.line.queuedBytes,
    drainSeconds: s.line.drainSeconds,
    compressionRatio: s.line.compressionRatio,
    holding: s.line.holdingSince !== null,
    endpointsStale: s.discovery.stale,
    bytesSent: s.bytesSent,
    snapshotsSent: s.snapshotsSent,
    deltasSent: s.deltasSent,
    nacks: s.agent ? s.nacks : null,
    lagVersions: s.lag.versions,
    driftSeconds: s.drift.seconds,
    stale: s.stale,
  };
}

import { ErrorCode, FedmeshError, invalid, isDnsLabel, parseByteRate, parseByteSize } from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from './server.js';

/** What `GET /v1/regions/{region}` shows: desired against applied, and how the line is doing. */
export interface RegionSummary {
  region: string;
  desired: { version: number; hash: string };
  applied: { version: number; hash: string } | null;
  inSync: boolean;
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
  lastError: string | null;
}

export function registerRegionRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const summary = (region: string): RegionSummary => {
    const view = deps.engine.view(region);
    if (!view) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
    const stats = deps.engine.stats(region);
    const received = deps.status.get(region);
    const report = received?.report;
    const regionRes = deps.engine.resource({ kind: 'Region', namespace: '_', name: region });
    const link = regionRes?.kind === 'Region' ? regionRes.spec.link : undefined;
    const inSync = report?.hash === view.hash;
    const now = Date.now();
    const stale =
      !received ||
      now - received.receivedAt.getTime() > deps.staleAfterHeartbeats * report!.heartbeatSeconds * 1000;
    const publishedAt = stats?.lastPublishedAt?.getTime();
    deps.metrics.regionLagVersions.set(
      { region },
      report ? Math.max(0, view.version - report.version) : view.version,
    );
    return {
      region,
      desired: { version: view.version, hash: view.hash },
      applied: report ? { version: report.version, hash: report.hash } : null,
      inSync,
      lag: {
        versions: inSync ? 0 : Math.max(0, view.version - (report?.version ?? 0)),
        seconds: inSync || publishedAt === undefined ? 0 : Math.round((now - publishedAt) / 100) / 10,
      },
      stale,
      lastReportAt: received ? received.receivedAt.toISOString() : null,
      bytesSent: stats?.bytesSent ?? 0,
      snapshotsSent: stats?.snapshotsSent ?? 0,
      deltasSent: stats?.deltasSent ?? 0,
      budget: {
        bytesPerSecond: link ? parseByteRate(link.budget) : null,
        burstBytes: link?.burst !== undefined ? parseByteSize(link.burst) : null,
      },
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
      lastError: report?.lastError ?? stats?.lastError ?? null,
    };
  };

  const checkName = (region: string) => {
    if (!isDnsLabel(region)) throw invalid([{ path: 'region', message: 'must be a DNS-1123 label' }]);
    return region;
  };

  app.get('/v1/regions', async () => ({ items: deps.engine.regions().map(summary) }));
  app.get<{ Params: { region: string } }>('/v1/regions/:region', async (req) =>
    summary(checkName(req.params.region)),
  );
  app.get<{ Params: { region: string } }>('/v1/regions/:region/view', async (req) => {
    const region = checkName(req.params.region);
    await deps.engine.flush();
    const view = deps.engine.view(region);
    if (!view) throw new FedmeshError(ErrorCode.NotFound, `region ${region} not found`);
    return view;
  });
}

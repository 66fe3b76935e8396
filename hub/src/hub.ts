import { connectNats, type Logger, regionLinkOf, settleWithin, urgentSubject } from '@fedmesh/shared';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { parse as parseYaml } from 'yaml';
import { type EarlyListener, listenEarly } from './api/listener.js';
import { buildServer } from './api/server.js';
import { createWriter } from './api/writes.js';
import { createJetStreamAuditLog } from './audit/index.js';
import { type HubConfig, loadTokens } from './config.js';
import { createHubMetrics } from './metrics/index.js';
import { createStatusIntake } from './regions/status.js';
import { serveEndpointReports } from './regions/uplink.js';
import { untilDone } from './startup.js';
import { createKvConfigStore } from './store/index.js';
import { createSyncEngine, createSyncPublisher, ensureSyncStream, type SyncEngine } from './sync/index.js';
import { announceKeys, loadHubKeys } from './sync/keys.js';
import { createNudger } from './sync/nudge.js';
import { serveResyncRequests } from './sync/resync.js';
import { createUrgentLane } from './sync/urgent.js';

export interface RunningHub {
  /** Base URL of the admin API, e.g. http://127.0.0.1:8080 */
  url: string;
  engine: SyncEngine;
  nc: NatsConnection;
  /** Graceful stop: stop taking requests, publish what is pending, drain NATS. */
  stop(): Promise<void>;
}

/**
 * Wires the hub together and starts it. Used by the `fedmesh-hub` bin and by in-process tests.
 * The HTTP socket opens first (`/livez` answers, `/readyz` says what start-up waits for); every
 * step that needs JetStream is retried until it succeeds, so a hub started while NATS is
 * electing leaders or missing a member waits rather than exits.
 */
export async function startHub(config: HubConfig, logger: Logger): Promise<RunningHub> {
  const tokens = loadTokens(config, parseYaml);
  if (tokens.size === 0)
    logger.warn('admin API authentication is off: set FEDMESH_ADMIN_TOKEN or --tokens-file');
  const keys = config.signingKey
    ? loadHubKeys(config.signingKey, config.previousSigningKey, logger)
    : undefined;
  if (!keys)
    logger.warn('sync messages are unsigned: agents cannot tell them from forged ones; set --signing-key');
  const [host, port] = splitHostPort(config.listen);
  const listener = await listenEarly(host, port);
  logger.info({ url: listener.url }, 'hub listening; ready once NATS and the store answer');
  try {
    return await startOn(listener, config, logger, tokens, keys);
  } catch (err) {
    await listener.close();
    throw err;
  }
}

async function startOn(
  listener: EarlyListener,
  config: HubConfig,
  logger: Logger,
  tokens: ReturnType<typeof loadTokens>,
  keys: ReturnType<typeof loadHubKeys> | undefined,
): Promise<RunningHub> {
  const startup = logger.child({ component: 'startup' });
  listener.waitingFor('connecting to NATS');
  const nc = await connectNats({
    servers: config.nats,
    name: 'fedmesh-hub',
    credsFile: config.natsCreds,
    logger,
    waitOnFirstConnect: true,
  });
  listener.waitingFor('JetStream: the sync stream, the config store and the audit log');
  const { jsm, store, audit } = await untilDone('JetStream set-up', startup, async () => {
    const jsm = await jetstreamManager(nc);
    if (keys) await announceKeys(jetstream(nc), jsm, keys, config.replicas);
    await ensureSyncStream(jsm, {
      maxAgeMs: config.streamMaxAge,
      maxBytes: config.streamMaxBytes,
      replicas: config.replicas,
      duplicateWindowMs: 2 * 60_000,
    });
    const store = await createKvConfigStore(nc, { replicas: config.replicas });
    const audit = await createJetStreamAuditLog(jetstream(nc), jsm, {
      maxAgeMs: config.auditMaxAge,
      replicas: config.replicas,
    });
    return { jsm, store, audit };
  });
  const metrics = createHubMetrics();
  // The status intake starts after the engine; the lane asks it only once changes flow.
  let status: ReturnType<typeof createStatusIntake> | undefined;
  const regionBudget = (region: string) =>
    regionLinkOf(engine.resource({ kind: 'Region', namespace: '_', name: region }))?.bytesPerSecond;
  /**
   * How long what the region's agent has not consumed takes to drain at its budget, from its last
   * report; undefined when it has no budget or has been silent for two heartbeats (then nothing
   * is known to drain, and nothing is held for it).
   */
  const lineDrainMs = (region: string): number | undefined => {
    const received = status?.get(region);
    if (!received) return undefined;
    const { report } = received;
    if (Date.now() - received.receivedAt.getTime() > 2 * report.heartbeatSeconds * 1000) return undefined;
    const budget = report.budgetBytesPerSecond ?? regionBudget(region);
    if (!budget) return undefined;
    return (metrics.line.queuedBytes(region, report.streamSeq) / budget) * 1000;
  };
  const urgentLane = createUrgentLane({
    publish: (region, body) => nc.publish(urgentSubject(region), body),
    budget: (region) => status?.get(region)?.report?.budgetBytesPerSecond ?? regionBudget(region),
    // Behind: what the agent has not consumed would take more than a second of its budget, or
    // its line ran near its budget over the last few seconds (a paced agent in token debt).
    behind: (region) => {
      const report = status?.get(region)?.report;
      if (!report) return false;
      const budget = report.budgetBytesPerSecond ?? regionBudget(region) ?? 64 * 1024;
      return metrics.line.queuedBytes(region, report.streamSeq) > budget || (report.utilization ?? 0) >= 0.8;
    },
    log: logger.child({ component: 'urgent' }),
    ...(keys ? { key: keys.current } : {}),
  });
  const engine = createSyncEngine({
    urgentLane,
    store,
    publisher: createSyncPublisher(jetstream(nc), jsm, keys?.own),
    logger,
    onPublished: metrics.published,
    onChangesPublished: metrics.changesPublished,
    onRound: metrics.publicationRound,
    replayBytes: (region, after) => metrics.line.bytesAfter(region, after),
    lineDrainMs,
    options: {
      debounceMs: config.debounce,
      maxWaitMs: config.maxWait,
      coalesceAfterMs: config.coalesceAfter,
      ...(keys ? { signingKey: keys.current } : {}),
      chunkSize: config.chunkSize,
      ...(config.compressionLevel === undefined ? {} : { compressionLevel: config.compressionLevel }),
    },
  });
  let started = false;
  let natsUp = true;
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') natsUp = false;
      else if (s.type === 'reconnect') natsUp = true;
    }
  })().catch(() => undefined);
  listener.waitingFor('the config watch and the region streams');
  await untilDone('config watch', startup, () => engine.start());
  status = createStatusIntake(nc, logger);
  const nudger = createNudger({
    head: (region) => engine.stats(region)?.head,
    publish: (region, body) => nc.publish(urgentSubject(region), body),
    ...(keys ? { key: keys.current } : {}),
    log: logger.child({ component: 'nudge' }),
  });
  status.onReport((r) => {
    engine.setAcceptedCodecs(r.region, r.acceptedCodecs);
    nudger.report(r).catch((err) => logger.warn({ err, region: r.region }, 'cannot nudge the agent'));
  });
  const resync = serveResyncRequests(nc, engine, logger);
  // What agents discover, written through the API's one write path (audit, metrics).
  const uplink = serveEndpointReports(
    nc,
    createWriter({ store, audit, metrics, logger, cached: (ref) => engine.stored(ref) }),
    async () => (await engine.list({ kind: 'ServiceEndpoints' }, 0)).map((r) => r.resource),
    logger,
  );

  // The API serves on the socket that has been answering the probes since the start.
  let apiHandler: Parameters<EarlyListener['handOver']>[0] | undefined;
  const app = buildServer({
    store,
    audit,
    engine,
    status,
    metrics,
    logger,
    auth: { tokens },
    bodyLimit: config.bodyLimit,
    staleAfterHeartbeats: config.staleAfter,
    discovery: (region) => uplink.discovery(region),
    endpointsStaleAfterMs: config.endpointsStaleAfter,
    ready: () => started && natsUp && !nc.isClosed(),
    serverFactory: (handler) => {
      apiHandler = handler;
      return listener.server;
    },
  });
  await app.ready();
  listener.handOver(apiHandler!);
  started = true;
  const url = listener.url;
  logger.info({ url }, 'hub ready');

  let stopping: Promise<void> | undefined;
  return {
    url,
    engine,
    nc,
    stop: () => {
      stopping ??= (async () => {
        await app.close();
        await settleWithin(listener.close(), STOP_STEP_MS);
        // With NATS down, pending changes cannot be published (they are safe in the KV store
        // and the next hub publishes them); do not wait for the reconnect that may never come.
        if (natsUp) await settleWithin(engine.flush(), STOP_STEP_MS);
        resync.unsubscribe();
        uplink.close();
        status?.close();
        await settleWithin(engine.stop(), STOP_STEP_MS);
        await settleWithin(natsUp ? nc.drain() : nc.close(), STOP_STEP_MS);
        if (!nc.isClosed()) await nc.close().catch(() => undefined);
      })();
      return stopping;
    },
  };
}

/** Longest one shutdown step may take, so SIGTERM always ends the process in time. */
const STOP_STEP_MS = 3_000;

export function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), Number(s.slice(i + 1))];
}

import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import {
  agentInboxPrefix,
  BUILD,
  collectProcessMetrics,
  connectNats,
  emptyView,
  type KeyAnnouncement,
  type Logger,
  type RegionView,
  readCounter,
  regionUplinkOf,
  registerBuildInfo,
  settleWithin,
  viewKey,
} from '@fedmesh/shared';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, Gauge, Registry } from 'prom-client';
import type { AgentConfig } from './config.js';
import { followRegistrationsFile } from './discovery/file.js';
import { withLocalEndpoints } from './discovery/local.js';
import { createRegistry } from './discovery/registry.js';
import { startEndpointsReporter } from './discovery/report.js';
import { registerRegistrationRoutes } from './discovery/routes.js';
import { combineSources, type DiscoveredEndpoint } from './discovery/source.js';
import { startConfiguredSources } from './discovery/sources.js';
import { type AgentState, createFileStateStore } from './state/file-store.js';
import { buildStatusServer } from './status/http.js';
import { createProxyInventory } from './status/proxies.js';
import { startStatusUplink } from './status/uplink.js';
import { createSyncClient, type LineStatus, type SyncClient } from './sync/client.js';
import { keyAnnouncementReader, readTrustFile } from './sync/keys.js';
import { registerLineMetrics } from './sync/metrics.js';
import { createSyncTrust, type TrustStatus } from './sync/trust.js';
import type { UrgentStatus } from './sync/types.js';
import { createUplink, type UplinkStatus } from './uplink/lanes.js';
import { createApplyToPushHistogram, createXdsServer } from './xds/index.js';

export interface RunningAgent {
  statusUrl: string;
  xdsPort: number;
  status(): AgentStatus;
  stop(): Promise<void>;
}

export interface AgentStatus {
  region: string;
  /** The software's version (External contract: `{"build": {"version": "x.y.z"}}`). */
  build: { version: string };
  version: number;
  hash: string;
  proxies: number;
  resources: number;
  nats: 'connected' | 'disconnected';
  sync: {
    messagesReceived: number;
    bytesReceived: number;
    applied: number;
    rejected: number;
    resyncs: number;
    /** Backlogs not replayed: the hub's catch-up answered with a coalesced delta, a snapshot or "at the head". */
    catchUps: number;
    /** Compressed payload bytes of the sync messages applied. */
    payloadBytes: number;
    /** Estimated bytes the downlink carried: sync messages, protocol, TCP/IP headers. */
    lineBytesReceived: number;
    chunksSpooled: number;
    /** Chunked transfers resumed at the next chunk after an interruption. */
    resumes: number;
    /** Pulls ended because the hub announced the chain ahead and they brought nothing. */
    stalls: number;
    lastError: string | null;
  };
  /** The urgent lane: entries served ahead of the chain, and what became of them. */
  urgent: UrgentStatus;
  /** Which hub keys the agent accepts, and why (`--trust`, pinned on first use, or none yet). */
  trust: TrustStatus;
  /** Endpoints registered with this agent (IDC and VM sites) and how many pass their checks. */
  registrations: { count: number; healthy: number };
  /** Budget, utilization, queue and compression of the downlink; null until NATS is reached. */
  line: LineStatus | null;
  /** The budgeted uplink: bytes sent per lane (counts, status, detail) and what waits. */
  uplink: UplinkStatus;
  xds: { nacks: number; proxies: unknown[] };
}

/**
 * Starts an edge agent. Order matters for static stability: the persisted view is served over
 * xDS before NATS is even dialled, so proxies keep working through hub or NATS outages.
 */
export async function startAgent(config: AgentConfig, logger: Logger): Promise<RunningAgent> {
  const log = logger.child({ region: config.region });
  const store = createFileStateStore(config.stateDir);
  const initial = await loadOrReset(store, config, log);
  // Key announcements are read over NATS once it is connected; until then there are none.
  let readAnnouncements: () => Promise<KeyAnnouncement[]> = async () => [];
  const trust = createSyncTrust({
    stateDir: config.stateDir,
    ...(config.trust ? { trustFile: { path: config.trust, text: readTrustFile(config.trust) } } : {}),
    announcements: () => readAnnouncements(),
    log: log.child({ component: 'trust' }),
  });
  await trust.load();

  let sync: SyncClient | undefined;
  let nc: NatsConnection | undefined;
  let served: RegionView | undefined =
    initial.streamSeq > 0 || initial.view.version > 0 ? initial.view : undefined;
  const uplinkRef: { changed(): void } = { changed: () => undefined };

  const applyToPush = createApplyToPushHistogram();
  const inventory = createProxyInventory();
  const xds = await createXdsServer({
    logger: log,
    listen: config.xdsListen,
    controlPlane: `fedmesh-agent/${config.region}`,
    onChange: (event) => {
      inventory.record(event);
      uplinkRef.changed();
    },
    onPush: applyToPush.observe,
  });
  if (served) xds.setView(served);

  // What the sync client last handed on (the verified view with any urgent overlay); what is
  // served is that with this site's registered endpoints on top (local first).
  let fromSync: RegionView | undefined = served;
  let localEndpoints: () => readonly DiscoveredEndpoint[] = () => [];
  const serveComposed = () => {
    if (!fromSync) return;
    const view = withLocalEndpoints(fromSync, config.region, localEndpoints());
    served = view;
    try {
      xds.setView(view);
    } catch (err) {
      log.error({ err }, 'cannot serve the new view over xDS; still serving the previous one');
    }
  };
  const serve = (view: RegionView) => {
    fromSync = view;
    serveComposed();
    uplinkRef.changed();
  };

  const status = (): AgentStatus => {
    const view = sync?.state().view ?? initial.view;
    const c = sync?.counters();
    const proxies = xds.proxies();
    return {
      region: config.region,
      build: BUILD,
      version: view.version,
      hash: view.hash,
      proxies: proxies.length,
      resources: Object.keys(view.resources).length,
      nats: nc && !nc.isClosed() ? 'connected' : 'disconnected',
      sync: {
        messagesReceived: c?.messagesReceived ?? 0,
        bytesReceived: c?.bytesReceived ?? 0,
        applied: c?.applied ?? 0,
        rejected: c?.rejected ?? 0,
        resyncs: c?.resyncs ?? 0,
        catchUps: c?.catchUps ?? 0,
        payloadBytes: c?.payloadBytes ?? 0,
        lineBytesReceived: c?.lineBytesReceived ?? 0,
        chunksSpooled: c?.chunksSpooled ?? 0,
        resumes: c?.resumes ?? 0,
        stalls: c?.stalls ?? 0,
        lastError: c?.lastError ?? null,
      },
      urgent: sync?.urgent() ?? {
        serving: 0,
        received: 0,
        confirmed: 0,
        dropped: 0,
        expired: 0,
        rejected: 0,
      },
      trust: trust.status(),
      registrations: (() => {
        const items = registrations.list();
        return { count: items.length, healthy: items.filter((r) => r.healthy).length };
      })(),
      line: sync?.line() ?? null,
      uplink: upline.status(),
      xds: { nacks: proxies.reduce((n, p) => n + p.nacks.length, 0), proxies },
    };
  };

  const registry = createAgentMetrics(status, inventory.totalNacks);
  registerLineMetrics(registry, () => sync);
  registry.registerMetric(applyToPush.metric);
  const uplinkBytes = new Counter({
    name: 'fedmesh_agent_uplink_bytes_total',
    help: 'Line bytes sent to the hub, per uplink lane (counts, status, detail)',
    labelNames: ['lane'],
    registers: [registry],
  });
  // IDC and VM sites: endpoints registered with this agent, with their health checks.
  const registrations = createRegistry({
    stateDir: config.stateDir,
    log: log.child({ component: 'registrations' }),
  });
  await mkdir(config.stateDir, { recursive: true });
  await registrations.load();
  // Every source of this region's endpoints; local serving and the uplink read their union.
  const discovery = combineSources([registrations, ...(await startConfiguredSources(config, log))]);
  localEndpoints = () => discovery.list();
  discovery.onChange(serveComposed);
  // Everything the agent sends up shares one bucket of the Region's uplink budget, by priority:
  // healthy counts, then status, then endpoint detail.
  const uplinkBudget = () => {
    const view = sync?.state().view ?? initial.view;
    return regionUplinkOf(view.resources[viewKey('Region', '_', config.region)]);
  };
  const upline = createUplink({
    nc: () => nc,
    budget: uplinkBudget,
    log: log.child({ component: 'uplink' }),
    onSent: (lane, bytes) => uplinkBytes.inc({ lane }, bytes),
  });
  const reporter = startEndpointsReporter({
    region: config.region,
    source: discovery,
    uplink: upline,
    budget: uplinkBudget,
  });
  const unfollow = config.registrations
    ? await followRegistrationsFile(
        config.registrations,
        registrations,
        log.child({ component: 'registrations' }),
      )
    : () => undefined;
  serveComposed();
  const http = buildStatusServer({
    logger: log,
    status: () => ({ ...status() }),
    registry,
    healthy: () => served !== undefined,
    routes: (app) => registerRegistrationRoutes(app, registrations),
  });
  const [host, port] = splitHostPort(config.statusListen);
  await http.listen({ host, port });
  const addr = http.server.address();
  const statusUrl = `http://${host.includes(':') ? `[${host}]` : host}:${typeof addr === 'object' && addr ? addr.port : port}`;
  log.info({ statusUrl, xds: `${xds.address}`, version: initial.view.version }, 'agent serving');

  const uplink = startStatusUplink({
    uplink: upline,
    region: config.region,
    heartbeatMs: config.heartbeat,
    report: () => {
      const s = status();
      return {
        region: config.region,
        agentId: `${config.region}/${process.pid}`,
        version: s.version,
        hash: s.hash,
        proxies: s.proxies,
        // Across reconnects: a proxy that NACKs and drops its stream still counts.
        nacks: inventory.totalNacks(),
        acceptedCodecs: [...config.codecs],
        bytesReceived: s.sync.bytesReceived,
        messagesReceived: s.sync.messagesReceived,
        rejected: s.sync.rejected,
        resyncs: s.sync.resyncs,
        lineBytesReceived: s.sync.lineBytesReceived,
        ...lineReport(s.line, config.budget),
        ...(s.sync.lastError ? { lastError: s.sync.lastError } : {}),
        heartbeatSeconds: config.heartbeat / 1000,
        sentAt: new Date().toISOString(),
        ...(() => {
          const proxyList = inventory.forReport(xds.proxies());
          return proxyList ? { proxyList } : {};
        })(),
      };
    },
  });
  uplinkRef.changed = uplink.changed;

  // NATS comes up in the background: the agent serves its persisted view whether or not it is there.
  const abort = new AbortController();
  const connecting = (async () => {
    try {
      const conn = await connectNats({
        servers: config.nats,
        name: `fedmesh-agent-${config.region}`,
        inboxPrefix: agentInboxPrefix(config.region),
        credsFile: config.natsCreds,
        logger: log,
        waitOnFirstConnect: true,
      });
      if (abort.signal.aborted) {
        await conn.close();
        return;
      }
      nc = conn;
      reporter.resend();
      const domain = config.hubDomain ? { domain: config.hubDomain } : {};
      const jsm = await jetstreamManager(conn, { ...domain, checkAPI: false });
      readAnnouncements = keyAnnouncementReader(jsm);
      sync = createSyncClient({
        region: config.region,
        nc: conn,
        js: jetstream(conn, domain),
        jsm,
        store,
        trust,
        logger: log,
        onView: serve,
        onApplied: () => uplinkRef.changed(),
        // Transfer progress reaches the hub (queued bytes, time to drain) at most once a second.
        onProgress: throttle(() => uplinkRef.changed(), 1_000),
        spoolDir: join(config.stateDir, 'spool'),
        urgentDir: config.stateDir,
        acceptedCodecs: config.codecs,
        ...(config.budget === undefined ? {} : { budgetBytesPerSecond: config.budget }),
        options: {
          maxPayloadBytes: config.maxPayload,
          batch: 16,
          // A pull stays open until it expires: new messages arrive at once whatever the expiry,
          // so a long one only makes an idle line quiet. JetStream's idle heartbeats (every 30 s,
          // the most nats.js allows) prove liveness meanwhile; at 5 s an idle region paid ~55 B/s
          // in expiries and heartbeats, at 120 s under 5 B/s.
          pullExpiresMs: 120_000,
          catchUpAfterMessages: 16,
        },
      });
      await sync.start(initial);
      uplink.changed();
    } catch (err) {
      log.error({ err }, 'cannot start syncing');
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    statusUrl,
    xdsPort: xds.port,
    status,
    stop: () => {
      stopping ??= (async () => {
        abort.abort();
        uplink.stop();
        upline.stop();
        unfollow();
        reporter.stop();
        discovery.stop();
        // Every step is bounded: SIGTERM must end the agent in time even with NATS unreachable
        // or a pull stuck on a slow line. The persisted view is already durable.
        await settleWithin(sync?.stop(), STOP_STEP_MS);
        await settleWithin(http.close(), STOP_STEP_MS);
        await settleWithin(xds.close(), STOP_STEP_MS);
        await settleWithin(nc?.drain(), STOP_STEP_MS);
        if (nc && !nc.isClosed()) await nc.close().catch(() => undefined);
        await settleWithin(connecting, 100);
      })();
      return stopping;
    },
  };
}

/** A damaged state file is kept aside for inspection and the agent starts empty and resyncs. */
async function loadOrReset(
  store: ReturnType<typeof createFileStateStore>,
  config: AgentConfig,
  log: Logger,
): Promise<AgentState> {
  let s: AgentState | undefined;
  try {
    s = await store.load();
  } catch (err) {
    const aside = join(config.stateDir, `view.json.corrupt-${Date.now()}`);
    await rename(join(config.stateDir, 'view.json'), aside).catch(() => undefined);
    log.error(
      { err: (err as Error).message, aside },
      'persisted view is damaged; starting empty and resyncing',
    );
  }
  // Another region's state dir: starting would overwrite that region's saved view (and its
  // registrations and trust) with this one's. A mistyped flag must not cost a site its state.
  if (s && s.view.region !== config.region) {
    throw new Error(
      `--state-dir ${config.stateDir} holds the state of region ${s.view.region}, not ${config.region}; ` +
        `give ${config.region} a state dir of its own (or remove that one if ${s.view.region} is gone)`,
    );
  }
  return s ?? { view: emptyView(config.region), streamSeq: 0 };
}

function createAgentMetrics(status: () => AgentStatus, totalNacks: () => number): Registry {
  const registry = new Registry();
  collectProcessMetrics(registry, 'fedmesh_agent_');
  registerBuildInfo(registry);
  const gauge = (name: string, help: string, read: (s: AgentStatus) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(status()));
      },
    });
  const counter = (name: `${string}_total`, help: string, read: (s: AgentStatus) => number) =>
    readCounter({ name, help, registry, read: (add) => add(read(status())) });
  gauge('fedmesh_agent_view_version', 'Version of the verified view being served', (s) => s.version);
  gauge('fedmesh_agent_view_resources', 'Resources in the served view', (s) => s.resources);
  gauge('fedmesh_agent_proxies_connected', 'Node proxies connected over ADS', (s) => s.proxies);
  readCounter({
    name: 'fedmesh_agent_xds_nacks_total',
    help: 'NACKs from node proxies since the agent started, across their reconnects',
    registry,
    read: (add) => add(totalNacks()),
  });
  counter(
    'fedmesh_agent_sync_bytes_received_total',
    'Sync bytes received from the hub (payload and headers)',
    (s) => s.sync.bytesReceived,
  );
  counter(
    'fedmesh_agent_sync_messages_received_total',
    'Sync messages received',
    (s) => s.sync.messagesReceived,
  );
  counter('fedmesh_agent_sync_applied_total', 'Snapshots and deltas applied', (s) => s.sync.applied);
  counter(
    'fedmesh_agent_sync_rejected_total',
    'Sync messages rejected (gap, hash mismatch, undecodable)',
    (s) => s.sync.rejected,
  );
  counter('fedmesh_agent_sync_resyncs_total', 'Snapshots requested from the hub', (s) => s.sync.resyncs);
  counter(
    'fedmesh_agent_sync_catch_ups_total',
    'Backlogs not replayed: the hub answered with a coalesced delta, a snapshot or at the head',
    (s) => s.sync.catchUps,
  );
  return registry;
}

/** The downlink's figures as the status report carries them. */
function lineReport(line: LineStatus | null, flagBudget: number | undefined) {
  if (!line) return flagBudget === undefined ? {} : { budgetBytesPerSecond: flagBudget };
  return {
    ...(line.budget
      ? { budgetBytesPerSecond: line.budget.bytesPerSecond, burstBytes: line.budget.burstBytes }
      : {}),
    receiveRate: line.receiveRate,
    ...(line.utilization === null ? {} : { utilization: line.utilization }),
    streamSeq: line.streamSeq,
    queuedMessages: line.queuedMessages,
    ...(line.compressionRatio === null ? {} : { compressionRatio: line.compressionRatio }),
    ...(line.spool
      ? { spool: { toVersion: line.spool.toVersion, chunks: line.spool.chunks, count: line.spool.count } }
      : {}),
  };
}

/** Calls `fn` at most once per `ms`; a call inside the window is deferred to its end, not lost. */
function throttle(fn: () => void, ms: number): () => void {
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    timer = undefined;
    last = Date.now();
    fn();
  };
  return () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) fire();
    else {
      timer = setTimeout(fire, wait);
      timer.unref();
    }
  };
}

function splitHostPort(s: string): [string, number] {
  const i = s.lastIndexOf(':');
  return [s.slice(0, i).replace(/^\[(.*)\]$/, '$1'), Number(s.slice(i + 1))];
}

const STOP_STEP_MS = 3_000;

import { ErrorCode, FedmeshError, type Logger, type RegionView } from '@fedmesh/shared';
import * as grpc from '@grpc/grpc-js';
import { translateView } from '../translate/index.js';
import { PUSH_ORDER, type TypeUrl, type XdsResources } from '../types.js';
import { createNonceSource, createSnapshotCache } from './cache.js';
import { type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, serveDeltaStream } from './delta.js';
import { loadXdsProtos } from './protos.js';
import { createProxyRegistry, type ProxyStatus, type XdsEvent, type XdsPush } from './proxies.js';
import { buildSnapshot, checkConsistency, type Snapshot } from './snapshot.js';
import { type DiscoveryRequest, type DiscoveryResponse, type StreamDeps, serveSotwStream } from './sotw.js';

export interface XdsServerOptions {
  logger: Logger;
  /** `host:port`; port 0 picks a free port (read it back from `port`). */
  listen: string;
  /** Called on connect, disconnect, ACK and NACK; the agent uses it to report status. */
  onChange?: (event: XdsEvent) => void;
  /**
   * Called for every response a new view caused, once it is written to the proxy's stream; the
   * agent turns it into its apply-to-push histogram. Kept apart from `onChange`, which drives
   * status reports and must not fire once per response.
   */
  onPush?: (push: XdsPush) => void;
  /** Sent as `control_plane.identifier` in every response, e.g. `fedmesh-agent/eu-west`. */
  controlPlane?: string;
  /** The view → Envoy resources function; tests may replace it. */
  translate?: (view: RegionView) => XdsResources;
}

export interface SetViewResult {
  version: number;
  /** Types whose resources changed and were pushed to subscribed proxies. */
  changed: TypeUrl[];
  /** What the translator left out, and why (also logged). */
  warnings: readonly string[];
}

export interface XdsServer {
  readonly address: string;
  readonly port: number;
  /**
   * Serves a new view. Until the first call the server answers nothing and proxies wait, which
   * is what they should do while the agent has no verified view. Throws (and keeps serving the
   * previous view) when the translated resources are inconsistent. `appliedAt`
   * (`performance.now()`, default: the call) is when the view was applied; pushes are timed from it.
   */
  setView(view: RegionView, opts?: { appliedAt?: number }): SetViewResult;
  /** Version and hash of the view being served, if any. */
  current(): { version: number; hash: string } | undefined;
  proxies(): ProxyStatus[];
  close(): Promise<void>;
}

export async function createXdsServer(options: XdsServerOptions): Promise<XdsServer> {
  const logger = options.logger.child({ component: 'xds' });
  const protos = loadXdsProtos();
  const translate = options.translate ?? translateView;
  const cache = createSnapshotCache();
  const proxies = createProxyRegistry(options.onChange ?? (() => {}));
  const deps: StreamDeps = {
    cache,
    proxies,
    logger,
    nonce: createNonceSource(),
    controlPlane: options.controlPlane ?? 'fedmesh-agent',
    ...(options.onPush ? { pushed: options.onPush } : {}),
  };
  const calls = new Set<grpc.ServerDuplexStream<unknown, unknown>>();
  const track = (call: grpc.ServerDuplexStream<unknown, unknown>): void => {
    calls.add(call);
    call.on('close', () => calls.delete(call));
    call.on('cancelled', () => calls.delete(call));
  };

  const server = new grpc.Server({
    // Proxies hold ADS streams for hours; keepalive finds the ones that vanished without a FIN.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  });
  server.addService(protos.ads, {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
      track(call as grpc.ServerDuplexStream<unknown, unknown>);
      serveSotwStream(call, deps);
    },
    DeltaAggregatedResources: (
      call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>,
    ) => {
      track(call as grpc.ServerDuplexStream<unknown, unknown>);
      serveDeltaStream(call, deps);
    },
  });

  const { host, port: wantedPort } = parseListen(options.listen);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${host.includes(':') ? `[${host}]` : host}:${wantedPort}`,
      grpc.ServerCredentials.createInsecure(),
      (err, bound) =>
        err
          ? reject(
              new FedmeshError(
                ErrorCode.Unavailable,
                `xDS server cannot listen on ${options.listen}: ${err.message}`,
                { cause: err },
              ),
            )
          : resolve(bound),
    );
  });
  logger.info({ address: host, port }, 'xDS server listening');

  let closing: Promise<void> | undefined;
  return {
    address: host,
    port,
    setView(view, opts = {}) {
      const appliedAt = opts.appliedAt ?? performance.now();
      const previous = cache.current();
      if (previous && previous.viewVersion === view.version && previous.viewHash === view.hash) {
        return { version: view.version, changed: [], warnings: previous.warnings };
      }
      if (previous && view.version === previous.viewVersion) {
        // The urgent lane's overlay and the site's own registered endpoints change what is served
        // between two versions of the chain (such a view has a hash of what is served); the hub
        // never publishes a version twice.
        logger.info(
          { version: view.version, hash: view.hash, previous: previous.viewHash },
          'view changed without a new version (an urgent overlay or local endpoints)',
        );
      }
      const translated = translate(view);
      const problems = checkConsistency(translated);
      if (problems.length > 0) {
        throw new FedmeshError(
          ErrorCode.Internal,
          `xDS resources for view ${view.version} are inconsistent: ${problems.join('; ')}`,
          {
            details: { version: view.version, problems },
          },
        );
      }
      const snapshot = buildSnapshot(view, translated, protos, appliedAt);
      const changed = changedTypes(previous, snapshot);
      for (const warning of snapshot.warnings) logger.warn({ version: view.version }, warning);
      cache.set(snapshot);
      logger.info(
        {
          version: view.version,
          hash: view.hash,
          changed,
          counts: Object.fromEntries(
            PUSH_ORDER.map((t) => [t.slice(t.lastIndexOf('.') + 1), snapshot.types[t].resources.size]),
          ),
        },
        'xDS view updated',
      );
      return { version: view.version, changed, warnings: snapshot.warnings };
    },
    current() {
      const snapshot = cache.current();
      return snapshot && { version: snapshot.viewVersion, hash: snapshot.viewHash };
    },
    proxies: () => proxies.list(),
    close() {
      closing ??= new Promise<void>((resolve) => {
        // ADS streams never end on their own, so a graceful shutdown would wait for ever.
        for (const call of calls) call.end();
        server.forceShutdown();
        logger.info('xDS server closed');
        resolve();
      });
      return closing;
    },
  };
}

function changedTypes(previous: Snapshot | undefined, next: Snapshot): TypeUrl[] {
  return PUSH_ORDER.filter((t) => previous?.types[t].hash !== next.types[t].hash);
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen);
  const port = Number(match?.[3]);
  if (!match || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FedmeshError(ErrorCode.Invalid, `xDS listen address must be host:port, got "${listen}"`, {
      issues: [{ path: 'listen', message: 'expected host:port' }],
    });
  }
  return { host: match[1] ?? match[2]!, port };
}

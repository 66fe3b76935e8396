import type { Duplex } from 'node:stream';
import { BUILD, ErrorCode, type Logger } from '@fedmesh/shared';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyServerFactory,
  LogController,
} from 'fastify';
import type { AuditLog } from '../audit/index.js';
import type { HubMetrics } from '../metrics/index.js';
import type { StatusIntake } from '../regions/status.js';
import type { RegionDiscovery } from '../regions/uplink.js';
import type { ConfigStore } from '../store/index.js';
import type { SyncEngine } from '../sync/index.js';
import { registerApplyRoute } from './apply.js';
import { type AuthConfig, registerAuth } from './auth.js';
import { registerChangeRoutes } from './changes.js';
import { checkDepth, parseYamlBody } from './documents.js';
import { toHttpError } from './errors.js';
import { buildOpenApi } from './openapi.js';
import { registerPreviewRoute } from './preview.js';
import { registerRegionRoutes } from './regions.js';
import { registerResourceRoutes } from './resources.js';
import { registerUiRoutes } from './ui.js';
import { createWriter } from './writes.js';

export interface ApiDeps {
  store: ConfigStore;
  audit: AuditLog;
  engine: SyncEngine;
  status: StatusIntake;
  metrics: HubMetrics;
  logger: Logger;
  auth: AuthConfig;
  /** Largest request body accepted, in bytes (413 above); `POST /v1/apply` takes 16 times this. */
  bodyLimit: number;
  /** A region whose agent has not reported for this many heartbeats is marked stale. */
  staleAfterHeartbeats: number;
  /** What the hub holds of each region's discovered endpoints (absent: no uplink intake). */
  discovery?: (region: string) => RegionDiscovery;
  /** A region's agent-owned endpoints are marked stale after this long without a word from it. */
  endpointsStaleAfterMs?: number;
  /** Whether the hub can serve: NATS connected and the engine started. */
  ready: () => boolean;
  /**
   * The HTTP server to serve on, already listening (the hub's early listener, see listener.ts);
   * without it `listen()` makes one.
   */
  serverFactory?: FastifyServerFactory;
}

export const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** Builds the admin API. Tests drive it with `inject()`; `main.ts` calls `listen()`. */
export function buildServer(deps: ApiDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    ...(deps.serverFactory ? { serverFactory: deps.serverFactory } : {}),
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    // Requests are counted and timed in /metrics; a log line each would drown the useful ones.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.bodyLimit,
    return503OnClosing: true,
    // Names are DNS labels and kinds are short: a long URL is an attack or a mistake.
    routerOptions: { maxParamLength: 512 },
    // Requests Node's HTTP parser refuses (bytes a request line may not hold, headers over the
    // limit) never reach Fastify; they get our error body too, not a framework's.
    clientErrorHandler: (err, socket) => writeClientError(err as NodeJS.ErrnoException, socket),
    // Errors Fastify raises before routing (a URL that does not decode) get the same body as ours.
    frameworkErrors: (err, _req, reply) => {
      const { status, body } = toHttpError(err);
      (reply as FastifyReply).code(status).send(body);
    },
  });
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) if (method !== 'HEAD') routes.push({ method, url: r.url });
  });
  app.decorate('fedmeshRoutes', routes);

  // Only JSON and YAML: anything else is a 415, not a string handed to a route.
  app.removeContentTypeParser(['text/plain']);
  // Some clients send a JSON content type on a bodiless DELETE; that is no reason to refuse it.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' && req.method !== 'PUT' && req.method !== 'POST') done(null, undefined);
    else
      json(req, body as string, (err, value) => {
        if (err) return done(err, undefined);
        try {
          checkDepth(value, 'the JSON document');
          done(null, value);
        } catch (e) {
          done(e as Error, undefined);
        }
      });
  });

  // YAML bodies arrive as one document or many; routes see plain values either way.
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseYamlBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .send({ error: { code: ErrorCode.NotFound, message: `no route ${req.method} ${truncate(req.url)}` } });
  });

  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, never the raw URL: label values stay bounded whatever clients send.
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async (_req, reply) => {
    const ok = deps.ready();
    reply
      .code(ok ? 200 : 503)
      .send({ status: ok ? 'ok' : 'starting', revision: deps.engine.revision(), build: BUILD });
  });
  // Liveness: the process answers. Readiness: NATS and the store answer (the engine started).
  app.get('/livez', async () => ({ status: 'ok', build: BUILD }));
  app.get('/readyz', async (_req, reply) => {
    const ok = deps.ready();
    reply
      .code(ok ? 200 : 503)
      .send({ status: ok ? 'ready' : 'not ready: NATS or the store is not answering' });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  let openapi: string | undefined;
  app.get('/openapi.json', async (_req, reply) => {
    openapi ??= JSON.stringify(buildOpenApi());
    reply.type('application/json').send(openapi);
  });

  // The operator page holds no data, so it sits outside /v1 and its token check.
  registerUiRoutes(app);

  const writer = createWriter({ ...deps, onUrgent: (ref) => deps.engine.markUrgent(ref) });
  app.register(async (v1) => {
    registerAuth(v1, deps.auth);
    registerResourceRoutes(v1, deps, writer);
    registerApplyRoute(v1, deps, writer);
    registerChangeRoutes(v1, deps, writer);
    registerRegionRoutes(v1, deps);
    registerPreviewRoute(v1, deps);
  });
  return app;
}

/** A raw HTTP answer to a request the parser refused, then the socket closes. */
function writeClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : err.code === 'HPE_REQUEST_TIMEOUT' ? 408 : 400;
  const message = tooLarge
    ? 'request headers are too large'
    : status === 408
      ? 'the request did not arrive in time'
      : `malformed HTTP request (${err.code ?? 'unreadable'}): a request line and headers hold ASCII only`;
  const body = JSON.stringify({ error: { code: ErrorCode.Invalid, message } });
  socket.end(
    `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
      `content-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered (method and URL pattern), for the OpenAPI completeness test. */
    fedmeshRoutes: readonly { method: string; url: string }[];
  }
}

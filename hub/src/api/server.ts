import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { parseAllDocuments } from 'yaml';
import { ErrorCode, FedmeshError, type Logger } from '@fedmesh/shared';
import type { HubMetrics } from '../metrics/index.js';
import type { StatusIntake } from '../regions/status.js';
import type { ConfigStore } from '../store/index.js';
import type { SyncEngine } from '../sync/index.js';
import { type AuthConfig, registerAuth } from './auth.js';
import { toHttpError } from './errors.js';
import { registerRegionRoutes } from './regions.js';
import { registerResourceRoutes } from './resources.js';

export interface ApiDeps {
  store: ConfigStore;
  engine: SyncEngine;
  status: StatusIntake;
  metrics: HubMetrics;
  logger: Logger;
  auth: AuthConfig;
  /** Largest request body accepted, in bytes (413 above). */
  bodyLimit: number;
  /** A region whose agent has not reported for this many heartbeats is marked stale. */
  staleAfterHeartbeats: number;
  /** Whether the hub can serve: NATS connected and the engine started. */
  ready: () => boolean;
}

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'];

/** Builds the admin API. Tests drive it with `inject()`; `main.ts` calls `listen()`. */
export function buildServer(deps: ApiDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    disableRequestLogging: true,
    bodyLimit: deps.bodyLimit,
    return503OnClosing: true,
  });

  // YAML bodies arrive as one document or many; routes see plain values either way.
  app.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      const docs = parseAllDocuments(body as string);
      const errors = docs.flatMap((d) => ('errors' in d ? d.errors : []));
      if (errors.length > 0) {
        done(new FedmeshError(ErrorCode.Invalid, `malformed YAML: ${errors[0]!.message}`), undefined);
        return;
      }
      const values = docs.map((d) => d.toJSON()).filter((v) => v !== null && v !== undefined);
      done(null, values.length === 1 ? values[0] : values);
    } catch (err) {
      done(new FedmeshError(ErrorCode.Invalid, `malformed YAML: ${(err as Error).message}`), undefined);
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body } = toHttpError(err);
    if (status >= 500) req.log.error({ err }, 'request failed');
    reply.code(status).send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ error: { code: ErrorCode.NotFound, message: `no route ${req.method} ${req.url}` } });
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    deps.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  app.get('/healthz', async (_req, reply) => {
    const ok = deps.ready();
    reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'starting', revision: deps.engine.revision() });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.register(async (v1) => {
    registerAuth(v1, deps.auth);
    registerResourceRoutes(v1, deps);
    registerRegionRoutes(v1, deps);
  });
  return app;
}

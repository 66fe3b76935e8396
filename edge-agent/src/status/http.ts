import type { Logger } from '@fedmesh/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * The agent's local HTTP endpoint: `/status` (JSON), `/metrics` (Prometheus), `/healthz`, and
 * the probes: `/livez` (the process answers) and `/readyz` (a verified view is served, from the
 * hub or from the state dir: a NATS outage leaves a started agent ready, static stability).
 */
export function buildStatusServer(deps: {
  logger: Logger;
  status: () => Record<string, unknown>;
  registry: Registry;
  healthy: () => boolean;
  /** More routes on the same listener (the registration API). */
  routes?: (app: FastifyInstance) => void;
}): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.logger.child({ component: 'status-http' }) as FastifyBaseLogger,
    // Through the log controller: the top-level option printed a deprecation line into the JSON log.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.get('/status', async () => deps.status());
  const ready = async (_req: unknown, reply: import('fastify').FastifyReply) => {
    const ok = deps.healthy();
    reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'no verified view yet' });
  };
  app.get('/healthz', ready);
  app.get('/readyz', ready);
  app.get('/livez', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  deps.routes?.(app);
  return app;
}

import type { Logger } from '@fedmesh/shared';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/** The agent's local HTTP endpoint: `/status` (JSON), `/metrics` (Prometheus), `/healthz`. */
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
    disableRequestLogging: true,
  });
  app.get('/status', async () => deps.status());
  app.get('/healthz', async (_req, reply) => {
    const ok = deps.healthy();
    reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'no verified view yet' });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  deps.routes?.(app);
  return app;
}

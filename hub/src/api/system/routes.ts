import { BUILD } from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.js';
import { schemas } from './schemas.js';
import { registerUiRoutes } from './ui.js';

/** Probes, metrics, this API's document and the operator page: outside /v1 and its token check. */
export function registerSystemRoutes(root: FastifyInstance, deps: ApiDeps): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.get('/healthz', { schema: schemas.healthz }, async (_req, reply) => {
    const ok = deps.ready();
    return reply
      .code(ok ? 200 : 503)
      .send({ status: ok ? 'ok' : 'starting', revision: deps.engine.revision(), build: BUILD });
  });
  // Liveness: the process answers. Readiness: NATS and the store answer (the engine started).
  app.get('/livez', { schema: schemas.livez }, async () => ({ status: 'ok' as const, build: BUILD }));
  app.get('/readyz', { schema: schemas.readyz }, async (_req, reply) => {
    const ok = deps.ready();
    return reply
      .code(ok ? 200 : 503)
      .send({ status: ok ? 'ready' : 'not ready: NATS or the store is not answering' });
  });
  app.get('/metrics', { schema: schemas.metrics }, async (_req, reply) => {
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  // Generated on first request, when every route is registered, and kept.
  let openapi: ReturnType<typeof root.swagger> | undefined;
  app.get('/openapi.json', { schema: schemas.openapi }, async () => {
    openapi ??= root.swagger();
    return openapi as { openapi: string };
  });

  // The operator page holds no data, so it sits outside /v1 and its token check.
  registerUiRoutes(root);
}

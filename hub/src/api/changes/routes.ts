import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AuditOrder, DEFAULT_AUDIT_LIMIT } from '../../audit/index.js';
import type { ApiDeps } from '../deps.js';
import type { Writer } from '../writes.js';
import { schemas } from './schemas.js';

/**
 * `GET /v1/changes`: the audit log, paged by revision (`next` is the `since` of the next page).
 * `order=desc` gives the newest `limit` entries, newest first ("what happened lately"); its
 * `next` is the newest revision in it, so following on from there reads what comes after.
 */
export function registerChangeRoutes(root: FastifyInstance, deps: ApiDeps, writer: Writer): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  app.get('/v1/changes', { schema: schemas.changes }, async (req) => {
    const since = req.query.since ?? 0;
    const limit = req.query.limit ?? DEFAULT_AUDIT_LIMIT;
    const order = req.query.order ?? AuditOrder.Asc;
    const items = await writer.counted('audit_list', () => deps.audit.list({ since, limit, order }));
    const next = order === AuditOrder.Desc ? items[0]?.revision : items.at(-1)?.revision;
    return { items, next: next ?? since };
  });
}

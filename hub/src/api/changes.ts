import { invalid } from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import { AuditOrder, DEFAULT_AUDIT_LIMIT, MAX_AUDIT_LIMIT } from '../audit/index.js';
import { singleQuery } from './resources.js';
import type { ApiDeps } from './server.js';
import type { Writer } from './writes.js';

/**
 * `GET /v1/changes`: the audit log, paged by revision (`next` is the `since` of the next page).
 * `order=desc` gives the newest `limit` entries, newest first ("what happened lately"); its
 * `next` is the newest revision in it, so following on from there reads what comes after.
 */
export function registerChangeRoutes(app: FastifyInstance, deps: ApiDeps, writer: Writer): void {
  app.get<{ Querystring: { since?: unknown; limit?: unknown; order?: unknown } }>(
    '/v1/changes',
    async (req) => {
      const since =
        parseCount(singleQuery(req.query.since, 'since'), 'since', 0, Number.MAX_SAFE_INTEGER) ?? 0;
      const limit =
        parseCount(singleQuery(req.query.limit, 'limit'), 'limit', 1, MAX_AUDIT_LIMIT) ?? DEFAULT_AUDIT_LIMIT;
      const order = parseOrder(singleQuery(req.query.order, 'order'));
      const items = await writer.counted('audit_list', () => deps.audit.list({ since, limit, order }));
      const next = order === AuditOrder.Desc ? items[0]?.revision : items.at(-1)?.revision;
      return { items, next: next ?? since };
    },
  );
}

function parseOrder(v: string | undefined): AuditOrder {
  if (v === undefined) return AuditOrder.Asc;
  if (v === AuditOrder.Asc || v === AuditOrder.Desc) return v;
  throw invalid([{ path: 'order', message: 'must be "asc" (oldest first) or "desc" (newest first)' }]);
}

function parseCount(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw invalid([{ path: name, message: `must be an integer from ${min} to ${max}` }]);
  }
  return n;
}

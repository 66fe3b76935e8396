import type { AuditEntry, AuditLog, AuditQuery } from './types.js';
import { AuditOrder, DEFAULT_AUDIT_LIMIT } from './types.js';

/** An audit log in memory, for unit tests and `inject()`-driven API tests. */
export function createMemoryAuditLog(): AuditLog {
  const entries: AuditEntry[] = [];
  return {
    async append(entry) {
      entries.push({ ...entry });
    },
    async list(query: AuditQuery = {}) {
      const since = query.since ?? 0;
      const ref = query.ref;
      return entries
        .filter(
          (e) =>
            e.revision > since &&
            (!ref || (e.kind === ref.kind && e.namespace === ref.namespace && e.name === ref.name)),
        )
        .sort((a, b) => (query.order === AuditOrder.Desc ? b.revision - a.revision : a.revision - b.revision))
        .slice(0, query.limit ?? DEFAULT_AUDIT_LIMIT)
        .map((e) => ({ ...e }));
    },
  };
}

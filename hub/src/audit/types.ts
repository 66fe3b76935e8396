import type { ResourceRef } from '@fedmesh/shared';

export const AuditOp = { Create: 'create', Update: 'update', Delete: 'delete' } as const;
export type AuditOp = (typeof AuditOp)[keyof typeof AuditOp];

/** One successful write through the admin API: who changed what, at which config revision. */
export interface AuditEntry {
  /** Config revision the write produced (the KV revision, the REST ETag). */
  revision: number;
  /** ISO 8601, when the hub saw the write succeed. */
  time: string;
  /** Name of the token that made the write (`anonymous` with authentication off). */
  actor: string;
  role: string;
  op: AuditOp;
  kind: ResourceRef['kind'];
  namespace: string;
  name: string;
}

/** `asc`: oldest first from the cursor; `desc`: the newest entries, newest first. */
export const AuditOrder = { Asc: 'asc', Desc: 'desc' } as const;
export type AuditOrder = (typeof AuditOrder)[keyof typeof AuditOrder];

export interface AuditQuery {
  /** Only entries with a revision above this one (a cursor: pass the last revision seen). */
  since?: number;
  /** At most this many entries (default 100). */
  limit?: number;
  /** Which end `limit` keeps (default asc: the oldest after `since`). */
  order?: AuditOrder;
  /** Only the entries of one resource. */
  ref?: ResourceRef;
}

/**
 * The audit trail of the admin API. Entries come back in revision order (newest first with
 * `order: desc`). It is a separate log from the config store because the store keeps a bounded
 * history per key (64 writes) while an audit trail must outlive that, and because the store has
 * no room for who made a write.
 */
export interface AuditLog {
  append(entry: AuditEntry): Promise<void>;
  list(query?: AuditQuery): Promise<AuditEntry[]>;
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 1000;

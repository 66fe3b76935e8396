export {
  AUDIT_STREAM,
  AUDIT_SUBJECT_PREFIX,
  auditSubject,
  createJetStreamAuditLog,
  type JetStreamAuditOptions,
} from './jetstream.js';
export { createMemoryAuditLog } from './memory.js';
export {
  type AuditEntry,
  type AuditLog,
  AuditOp,
  AuditOrder,
  type AuditQuery,
  DEFAULT_AUDIT_LIMIT,
  MAX_AUDIT_LIMIT,
} from './types.js';

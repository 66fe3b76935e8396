import { KINDS } from '@fedmesh/shared';
import { z } from 'zod';
import { AuditOp, AuditOrder, MAX_AUDIT_LIMIT } from '../../audit/index.js';
import { API_SCHEMAS, errors, READ_ERRORS } from '../schemas.js';

/** A query count: digits only, within bounds, or a 400 that says so. */
function count(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z
    .string({ error: 'must be given once' })
    .regex(/^\d+$/, { error: message })
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= min && n <= max, { error: message })
    .optional();
}

export const ChangesQuery = z.object({
  since: count(0, Number.MAX_SAFE_INTEGER).describe('Only revisions above this one (default 0)'),
  limit: count(1, MAX_AUDIT_LIMIT).describe('At most this many entries (default 100)'),
  order: z
    .enum([AuditOrder.Asc, AuditOrder.Desc], {
      error: (iss) =>
        typeof iss.input === 'string'
          ? 'must be "asc" (oldest first) or "desc" (newest first)'
          : 'must be given once',
    })
    .optional()
    .describe('asc: the oldest entries after `since`, oldest first; desc: the newest, newest first'),
});

export const AuditEntrySchema = z.object({
  revision: z.number().int(),
  time: z.iso.datetime(),
  actor: z.string().describe('Name of the token (tokens file `name`), or anonymous.'),
  role: z.string().describe('admin or read-only'),
  op: z.enum(Object.values(AuditOp) as [AuditOp, ...AuditOp[]]),
  kind: z.enum(KINDS as [string, ...string[]]),
  namespace: z.string(),
  name: z.string(),
});
API_SCHEMAS.add(AuditEntrySchema, { id: 'AuditEntry' });

export const ChangesSchema = z.object({
  items: z.array(AuditEntrySchema),
  next: z
    .number()
    .int()
    .describe(
      'Pass as `since` to read what comes after this page (with order=desc: the newest revision in it).',
    ),
});

export const schemas = {
  changes: {
    summary: 'Audit log: every write through the API, in revision order (order=desc: newest first)',
    querystring: ChangesQuery,
    response: { 200: ChangesSchema, ...errors(...READ_ERRORS) },
  },
} as const;

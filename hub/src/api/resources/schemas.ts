import type { Operation } from 'fast-json-patch';
import { z } from 'zod';
import {
  API_SCHEMAS,
  dnsLabel,
  documentedOnly,
  errors,
  FieldIssueSchema,
  KindSchema,
  ManifestSchema,
  NamespaceSchema,
  READ_ERRORS,
  ResourceRefSchema,
  ResourceSchema,
  StoredManifestSchema,
  WRITE_ERRORS,
} from '../schemas.js';

/** Results of `POST /v1/apply`, one per document. */
export const ApplyResult = {
  Created: 'created',
  Updated: 'updated',
  Unchanged: 'unchanged',
  Invalid: 'invalid',
  /** Changed by someone else between the plan and the write, or a stale `metadata.revision`. */
  Conflict: 'conflict',
  /** Not attempted: another document was invalid, or the store failed before its turn. */
  Skipped: 'skipped',
} as const;
export type ApplyResult = (typeof ApplyResult)[keyof typeof ApplyResult];
const APPLY_RESULTS = Object.values(ApplyResult) as [ApplyResult, ...ApplyResult[]];

export const RefParams = z.object({
  kind: KindSchema.describe('Resource kind'),
  namespace: NamespaceSchema,
  name: dnsLabel().describe('DNS-1123 label'),
});

export const ListQuery = z.object({
  kind: KindSchema.optional(),
  namespace: NamespaceSchema.optional(),
});

const urgent = z
  .enum(['true', 'false', '1', '0', ''], { error: 'must be true or false' })
  .optional()
  .describe(
    'true: send the change on the urgent lane of every region whose line is behind (also the header Fedmesh-Urgent: true).',
  );
export const WriteQuery = z.object({ urgent });

export const WriteHeaders = z.looseObject({
  'if-match': z
    .string()
    .optional()
    .describe('Only if the stored revision (ETag) is this one; 412 otherwise.'),
  'if-none-match': z.string().optional().describe('"*": create only, 409 if it exists'),
  'fedmesh-urgent': z.string().optional().describe('true: the change goes on the urgent lane'),
});

export const ManifestBody = documentedOnly(ManifestSchema);

const ListSchema = z.object({ kind: z.literal('List').optional(), items: z.array(ManifestSchema) });
export const ApplyBody = documentedOnly(
  z
    .union([z.array(ManifestSchema), ListSchema, ManifestSchema])
    .describe(
      'A list of manifests, a List object with items, or a single manifest (YAML bodies may hold many documents separated by ---).',
    ),
);

export const ApplyQuery = z.object({
  dryRun: z
    .enum(['true', 'false'], { error: 'must be "true" or "false", given once' })
    .optional()
    .describe('true: write nothing; each document carries its diff against the store'),
  urgent,
});

export const ResourceListSchema = z.object({ items: z.array(StoredManifestSchema) });

export const DeletedSchema = z.object({
  deleted: ResourceRefSchema,
  revision: z.number().int().describe('Revision of the deletion.'),
});

export const HistoryEntrySchema = z.object({
  revision: z.number().int(),
  time: z.iso.datetime(),
  op: z.enum(['put', 'delete']).describe("The store's word for the write."),
  action: z
    .enum(['create', 'update', 'delete'])
    .describe('The same write in the words of the audit log (GET /v1/changes).'),
  actor: z
    .string()
    .nullable()
    .describe('Null when the audit log has no entry (e.g. written by another tool).'),
  resource: ResourceSchema.optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntrySchema>;
export const HistorySchema = z.object({ ref: ResourceRefSchema, items: z.array(HistoryEntrySchema) });

const JsonPatchOperationSchema = z
  .object({
    op: z.enum(['add', 'remove', 'replace', 'move', 'copy', 'test']),
    path: z.string(),
    from: z.string().optional(),
    value: z.unknown().optional(),
  })
  .describe('One RFC 6902 operation.');

export const ApplyItemSchema = z.object({
  index: z.number().int().describe('Position of the document in the request, from 0.'),
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  result: z.enum(APPLY_RESULTS),
  revision: z.number().int().optional(),
  message: z.string().optional(),
  issues: z.array(FieldIssueSchema).optional(),
  warnings: z
    .array(FieldIssueSchema)
    .optional()
    .describe(
      'Written all the same, but likely a mistake: dependsOn on a Service or exportTo to a Region that does not exist.',
    ),
  patch: (z.array(JsonPatchOperationSchema) as unknown as z.ZodType<Operation[]>)
    .optional()
    .describe('Dry run: from what is stored to the document.'),
  diff: z.array(z.string()).optional().describe('Dry run: one readable line per operation.'),
});
export type ApplyItem = z.infer<typeof ApplyItemSchema>;

export const ApplyResponseSchema = z.object({
  dryRun: z.boolean(),
  summary: z.object(
    Object.fromEntries(APPLY_RESULTS.map((r) => [r, z.number().int()])) as Record<ApplyResult, z.ZodNumber>,
  ),
  items: z.array(ApplyItemSchema),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
export type ApplyResponse = z.infer<typeof ApplyResponseSchema>;
API_SCHEMAS.add(ApplyResponseSchema, { id: 'ApplyResponse' });

/** What `POST /v1/apply` answers: its own body for results, the error body for a refused request. */
const applyOrError = z.union([ApplyResponseSchema, errors(400)[400]]);

export const schemas = {
  list: {
    summary: 'List resources, optionally by kind and namespace',
    querystring: ListQuery,
    response: { 200: ResourceListSchema, ...errors(...READ_ERRORS) },
  },
  create: {
    summary: 'Create a resource; 409 if it exists',
    body: ManifestBody,
    response: { 201: StoredManifestSchema, ...errors(...WRITE_ERRORS, 409) },
  },
  get: {
    summary: 'Read a resource; ETag is its revision',
    params: RefParams,
    response: { 200: StoredManifestSchema, ...errors(...READ_ERRORS, 404) },
  },
  put: {
    summary: 'Create or replace a resource',
    description:
      'If-Match (or metadata.revision in the body) makes the write conditional; If-None-Match: * makes it create-only. ' +
      'A body identical to what is stored writes nothing and returns the stored revision. Likely mistakes come back as ' +
      'Warning headers (`299 - "<path>: <message>"`).',
    params: RefParams,
    querystring: WriteQuery,
    headers: WriteHeaders,
    body: ManifestBody,
    response: { 200: StoredManifestSchema, 201: StoredManifestSchema, ...errors(...WRITE_ERRORS, 409, 412) },
  },
  delete: {
    summary: 'Delete a resource',
    params: RefParams,
    querystring: WriteQuery,
    headers: WriteHeaders,
    response: { 200: DeletedSchema, ...errors(...WRITE_ERRORS, 404, 409, 412) },
  },
  history: {
    summary: 'Past writes of a resource, oldest first, with who made them',
    params: RefParams,
    response: { 200: HistorySchema, ...errors(...READ_ERRORS, 404) },
  },
  apply: {
    summary: 'Apply many manifests at once',
    description:
      'Validates every document first (references may point at other documents of the request); if any is invalid, ' +
      'nothing is written (400). Writes go in dependency order; identical documents are reported unchanged and not ' +
      'written. With dryRun=true nothing is written and each document carries its diff against the store. ' +
      'Read-only tokens may dry-run.',
    querystring: ApplyQuery,
    body: ApplyBody,
    response: {
      ...errors(...WRITE_ERRORS),
      200: ApplyResponseSchema,
      400: applyOrError,
      409: applyOrError,
      500: applyOrError,
      503: applyOrError,
    },
  },
} as const;

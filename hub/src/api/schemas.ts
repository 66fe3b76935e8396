import {
  CLUSTER_NAMESPACE,
  ErrorCode,
  isKnownKind,
  KINDS,
  kindInfo,
  type Resource,
  type ViewResource,
} from '@fedmesh/shared';
import { z } from 'zod';

/**
 * Schemas every route group uses: the error body, field issues, resource references and
 * manifests. Named schemas are registered with an id in zod's global registry (where `.describe()`
 * puts descriptions too), which the OpenAPI document turns into `components.schemas` and `$ref`s.
 */
export const API_SCHEMAS = z.globalRegistry;

function named<T extends z.ZodType>(id: string, schema: T, description?: string): T {
  API_SCHEMAS.add(schema, description ? { id, description } : { id });
  return schema;
}

export const FieldIssueSchema = named(
  'FieldIssue',
  z.object({
    path: z.string().describe('Dotted path of the field, e.g. spec.ports.0.port.'),
    message: z.string(),
  }),
);

export const ErrorBodySchema = named(
  'Error',
  z.object({
    error: z.object({
      code: z.string().describe(`Stable machine-readable code: ${Object.values(ErrorCode).join(', ')}.`),
      message: z.string().describe('Says what is wrong, naming the field where there is one.'),
      issues: z.array(FieldIssueSchema).optional(),
      details: z.record(z.string(), z.unknown()).optional().describe('e.g. currentRevision on a 412.'),
    }),
  }),
);

/** The error body under the statuses a route can answer with besides its own. */
export function errors<S extends number>(...statuses: S[]): Record<S, typeof ErrorBodySchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBodySchema])) as Record<S, typeof ErrorBodySchema>;
}
/** What every /v1 read can answer besides its own: bad input, no token, the store unreachable. */
export const READ_ERRORS = [400, 401, 500, 503] as const;
/** What every /v1 write can answer besides its own: a read-only token, a body too large or of another type. */
export const WRITE_ERRORS = [...READ_ERRORS, 403, 413, 415] as const;

export const DNS_LABEL_MESSAGE = 'must be a DNS-1123 label (lowercase a-z, 0-9, "-", at most 63)';
const DNS_LABEL_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A DNS-1123 label (resource, namespace and region names), with our message when it is not. */
export function dnsLabel(message = DNS_LABEL_MESSAGE) {
  return z.string({ error: 'must be given once' }).regex(DNS_LABEL_PATTERN, { error: message });
}

export function unknownKindMessage(kind: unknown): string {
  return `unknown kind "${String(kind).slice(0, 100)}"; valid kinds: ${KINDS.join(', ')}`;
}

/** A kind, as a path segment or a filter: the message lists the valid ones. */
export const KindSchema = z.enum(KINDS as [string, ...string[]], {
  error: (iss) => (typeof iss.input === 'string' ? unknownKindMessage(iss.input) : 'must be given once'),
});

/** A namespace, or `_` for cluster-scoped kinds. */
export const NamespaceSchema = z
  .string({ error: 'must be given once' })
  .refine((s) => s === CLUSTER_NAMESPACE || DNS_LABEL_PATTERN.test(s), { error: DNS_LABEL_MESSAGE })
  .describe(`A namespace; "${CLUSTER_NAMESPACE}" for cluster-scoped kinds (Region)`);

export const ResourceRefSchema = named(
  'ResourceRef',
  z.object({ kind: z.enum(KINDS as [string, ...string[]]), namespace: z.string(), name: z.string() }),
);

/**
 * Each kind's manifest as accepted on input: the model's own schema, named after its kind. `meta`
 * registers a copy, so the model's schemas stay unnamed for everyone else (`manifestJsonSchemas`).
 */
export const KIND_MANIFEST_SCHEMAS = KINDS.map((kind) => {
  const info = kindInfo(kind);
  return info.manifestSchema.meta({ id: kind, title: kind, description: info.description });
});
export const ManifestSchema = named(
  'Manifest',
  z.union(KIND_MANIFEST_SCHEMAS as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]),
  'Any manifest (apiVersion fedmesh.io/v1); the kind decides the shape of spec.',
);

/**
 * A manifest as the hub answers with it: as stored, plus `metadata.revision`. Open on purpose:
 * the serializer must pass every field the store holds (a strict copy would drop what a newer
 * model adds), and the model's own schemas describe each kind's fields.
 */
export const StoredManifestSchema = named(
  'StoredManifest',
  z.looseObject({
    apiVersion: z.string(),
    kind: z.string().refine(isKnownKind),
    metadata: z.looseObject({
      name: z.string(),
      namespace: z.string().optional(),
      revision: z.number().int().min(0).describe('Config revision of the last write (the ETag).'),
    }),
    spec: z.looseObject({}),
  }),
) as unknown as z.ZodType<StoredManifest>;
export type StoredManifest = Resource & { metadata: { revision: number } };

/** A resource as the store holds it (no revision); open like `StoredManifest`. */
export const ResourceSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
  spec: z.looseObject({}),
}) as unknown as z.ZodType<Resource>;

/** A resource in a region view: a stored kind, or RemoteEndpoints built by the hub. */
export const ViewResourceSchema = z.looseObject({
  kind: z.string(),
  metadata: z.looseObject({ name: z.string(), namespace: z.string().optional() }),
}) as unknown as z.ZodType<ViewResource>;

/**
 * Bodies declared for the document but not validated by the type provider: manifests go through
 * the model's parser (`parseManifest`), whose issues name fields as the model does, and a YAML
 * stream of them arrives as a list.
 */
const DOCUMENTED_ONLY = new WeakSet<object>();
export function documentedOnly<T extends z.ZodType>(schema: T): T {
  DOCUMENTED_ONLY.add(schema);
  return schema;
}
export function isDocumentedOnly(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && DOCUMENTED_ONLY.has(schema);
}

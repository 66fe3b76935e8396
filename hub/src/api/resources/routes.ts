import {
  CLUSTER_NAMESPACE,
  ErrorCode,
  FedmeshError,
  type FieldIssue,
  invalid,
  isClusterScoped,
  isDnsLabel,
  isKnownKind,
  type Kind,
  parseManifest,
  type Resource,
  type ResourceRef,
  refOf,
} from '@fedmesh/shared';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { type AuditEntry, AuditOp, MAX_AUDIT_LIMIT } from '../../audit/index.js';
import type { ConfigChange, StoredResource } from '../../store/index.js';
import type { ApiDeps } from '../deps.js';
import { DNS_LABEL_MESSAGE, unknownKindMessage } from '../schemas.js';
import {
  checkReferencesInStore,
  describe,
  Outcome,
  referenceWarningsInStore,
  urgentOption,
  type Writer,
  warningHeaders,
} from '../writes.js';
import { type HistoryEntry, schemas } from './schemas.js';

interface RefParams {
  kind: string;
  namespace: string;
  name: string;
}

export function registerResourceRoutes(root: FastifyInstance, deps: ApiDeps, writer: Writer): void {
  const { store, audit } = deps;
  const app = root.withTypeProvider<ZodTypeProvider>();

  app.get('/v1/resources', { schema: schemas.list }, async (req) => {
    const kind = req.query.kind as Kind | undefined;
    const namespace = req.query.namespace;
    // Served from the engine's watch cache once it has seen the store's latest revision: one
    // cheap stream-info call instead of a KV consumer per request.
    const items = await writer.counted('list', async () =>
      deps.engine.list(
        { ...(kind ? { kind } : {}), ...(namespace ? { namespace } : {}) },
        await store.revision(),
      ),
    );
    return { items: items.map(withRevision) };
  });

  app.post('/v1/resources', { schema: schemas.create }, async (req, reply) => {
    const { resource, warnings } = await admit(req.body, undefined, writer);
    const { revision } = await writer.write(resource, { createOnly: true }, req.principal);
    reply.header('location', resourcePath(refOf(resource)));
    if (warnings.length) reply.header('warning', warningHeaders(warnings));
    return send(reply, 201, { resource, revision });
  });

  app.get('/v1/resources/:kind/:namespace/:name', { schema: schemas.get }, async (req, reply) => {
    const ref = parseRef(req.params);
    const found = await writer.get(ref);
    if (!found) throw notFound(ref);
    return send(reply, 200, found);
  });

  app.put('/v1/resources/:kind/:namespace/:name', { schema: schemas.put }, async (req, reply) => {
    const ref = parseRef(req.params);
    const { resource, bodyRevision, warnings } = await admit(req.body, ref, writer);
    const ifMatch = parseRevisionHeader(req.headers['if-match'], 'If-Match') ?? bodyRevision;
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && ifNoneMatch !== '*') {
      throw invalid([{ path: 'If-None-Match', message: 'only "*" (create only) is supported' }]);
    }
    if (ifNoneMatch === '*' && ifMatch !== undefined) {
      throw invalid([
        { path: 'If-None-Match', message: 'cannot be combined with If-Match or metadata.revision' },
      ]);
    }
    const pre = ifNoneMatch === '*' ? { createOnly: true } : ifMatch !== undefined ? { ifMatch } : {};
    const opts = urgentOption(req.query, req.headers);
    const { outcome, revision } = await writer.write(resource, pre, req.principal, opts);
    if (warnings.length) reply.header('warning', warningHeaders(warnings));
    return send(reply, outcome === Outcome.Created ? 201 : 200, { resource, revision });
  });

  app.delete('/v1/resources/:kind/:namespace/:name', { schema: schemas.delete }, async (req) => {
    const ref = parseRef(req.params);
    const ifMatch = parseRevisionHeader(req.headers['if-match'], 'If-Match');
    const revision = await writer.delete(ref, ifMatch, req.principal, urgentOption(req.query, req.headers));
    return { deleted: ref, revision };
  });

  app.get('/v1/resources/:kind/:namespace/:name/history', { schema: schemas.history }, async (req) => {
    const ref = parseRef(req.params);
    const changes = await writer.counted('history', () => store.history(ref));
    if (changes.length === 0) throw notFound(ref);
    // The store keeps only the last writes of a key: the audit entries from the oldest of them on.
    const trail = await audit.list({ ref, since: changes[0]!.revision - 1, limit: MAX_AUDIT_LIMIT });
    // The store knows what changed, the audit log who changed it; joined on the revision.
    const audited = new Map(trail.map((e) => [e.revision, e]));
    return {
      ref,
      items: changes.map((c, i) => historyItem(c, audited.get(c.revision), changes[i - 1])),
    };
  });
}

/**
 * `op` is the store's word (put/delete) and stays for compatibility; `action` is the audit log's
 * (create/update/delete), the one `GET /v1/changes` and fedmeshctl use. Without an audit entry
 * it is read from the previous write of the key.
 */
function historyItem(
  c: ConfigChange,
  entry: AuditEntry | undefined,
  previous: ConfigChange | undefined,
): HistoryEntry {
  const action: AuditOp =
    entry?.op ??
    (c.op === 'delete'
      ? AuditOp.Delete
      : previous === undefined || previous.op === 'delete'
        ? AuditOp.Create
        : AuditOp.Update);
  return {
    revision: c.revision,
    time: c.time.toISOString(),
    op: c.op,
    action,
    actor: entry?.actor ?? null,
    ...(c.resource ? { resource: c.resource } : {}),
  };
}

function send(reply: FastifyReply, status: number, s: StoredResource) {
  reply.code(status).header('etag', `"${s.revision}"`);
  return withRevision(s);
}

/** Responses carry the revision in `metadata.revision`, like Kubernetes' resourceVersion. */
export function withRevision(s: StoredResource) {
  return { ...s.resource, metadata: { ...s.resource.metadata, revision: s.revision } };
}

export function resourcePath(ref: ResourceRef): string {
  return `/v1/resources/${ref.kind}/${ref.namespace}/${ref.name}`;
}

export function parseRef(p: RefParams): ResourceRef {
  if (!isKnownKind(p.kind)) throw unknownKind(p.kind, 'kind');
  const kind = p.kind as Kind;
  if (isClusterScoped(kind)) {
    if (p.namespace !== CLUSTER_NAMESPACE) {
      throw invalid([
        { path: 'namespace', message: `${kind} is cluster-scoped: use "${CLUSTER_NAMESPACE}"` },
      ]);
    }
  } else if (!isDnsLabel(p.namespace)) {
    throw invalid([{ path: 'namespace', message: DNS_LABEL_MESSAGE }]);
  }
  if (!isDnsLabel(p.name)) throw invalid([{ path: 'name', message: DNS_LABEL_MESSAGE }]);
  return { kind, namespace: p.namespace, name: p.name };
}

/**
 * Turns a request body into a resource fit to store: schema-valid, consistent with the path,
 * and referring only to things that exist. `metadata.revision` from an earlier GET is accepted
 * and used as the expected revision, so get → edit → put is safe by default. Forward references
 * that are legal but likely mistakes come back as warnings.
 */
export async function admit(
  body: unknown,
  ref: ResourceRef | undefined,
  writer: Pick<Writer, 'referent'>,
): Promise<{ resource: Resource; bodyRevision: number | undefined; warnings: FieldIssue[] }> {
  const { resource, bodyRevision } = parseDocument(body, ref);
  const cache = new Map<string, Resource | null>();
  const refIssues = await checkReferencesInStore(resource, writer.referent, undefined, cache);
  if (refIssues.length) throw invalid(refIssues, `invalid ${resource.kind} manifest`);
  const warnings = await referenceWarningsInStore(resource, writer.referent, undefined, cache);
  return { resource, bodyRevision, warnings };
}

/** Schema and path checks of one manifest, without looking anything up. */
export function parseDocument(
  body: unknown,
  ref: ResourceRef | undefined,
): { resource: Resource; bodyRevision: number | undefined } {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalid([{ path: '', message: 'body must be one manifest (a JSON or YAML object)' }]);
  }
  let bodyRevision: number | undefined;
  let input = body as Record<string, unknown>;
  const meta = input.metadata;
  if (meta && typeof meta === 'object' && !Array.isArray(meta) && 'revision' in meta) {
    const { revision, ...rest } = meta as Record<string, unknown>;
    if (!Number.isSafeInteger(revision) || (revision as number) < 0) {
      throw invalid([{ path: 'metadata.revision', message: 'must be a non-negative integer' }]);
    }
    bodyRevision = revision as number;
    input = { ...input, metadata: rest };
  }
  const defaultNamespace = ref && ref.namespace !== CLUSTER_NAMESPACE ? ref.namespace : undefined;
  const resource = parseManifest(input, defaultNamespace ? { defaultNamespace } : {});
  if (ref) {
    const got = refOf(resource);
    const issues: FieldIssue[] = [];
    if (got.kind !== ref.kind)
      issues.push({ path: 'kind', message: `is "${got.kind}" but the path says "${ref.kind}"` });
    if (got.namespace !== ref.namespace) {
      issues.push({
        path: 'metadata.namespace',
        message: `is "${got.namespace}" but the path says "${ref.namespace}"`,
      });
    }
    if (got.name !== ref.name)
      issues.push({ path: 'metadata.name', message: `is "${got.name}" but the path says "${ref.name}"` });
    if (issues.length) throw invalid(issues, 'manifest does not match the URL');
  }
  return { resource, bodyRevision };
}

export function parseRevisionHeader(value: string | string[] | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const raw = (Array.isArray(value) ? value[0] : value)!
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1');
  const n = Number(raw);
  if (raw === '' || !/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw invalid([{ path: name, message: 'must be a revision as returned in ETag, e.g. "42"' }]);
  }
  return n;
}

export function unknownKind(kind: string, path: string): FedmeshError {
  return invalid([{ path, message: unknownKindMessage(kind) }]);
}

function notFound(ref: ResourceRef): FedmeshError {
  return new FedmeshError(ErrorCode.NotFound, `${describe(ref)} not found`);
}

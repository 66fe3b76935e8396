import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  CLUSTER_NAMESPACE,
  checkReferences,
  ErrorCode,
  FedmeshError,
  invalid,
  isClusterScoped,
  isDnsLabel,
  isKnownKind,
  KINDS,
  type Kind,
  parseManifest,
  type Resource,
  type ResourceRef,
  refOf,
} from '@fedmesh/shared';
import type { StoredResource } from '../store/index.js';
import type { ApiDeps } from './server.js';

interface RefParams {
  kind: string;
  namespace: string;
  name: string;
}

export function registerResourceRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { store, engine, metrics } = deps;
  const counted = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    try {
      const out = await fn();
      metrics.storeOps.inc({ op, result: 'ok' });
      return out;
    } catch (err) {
      metrics.storeOps.inc({ op, result: (err as FedmeshError).code ?? 'error' });
      throw err;
    }
  };

  app.get<{ Querystring: { kind?: string; namespace?: string } }>('/v1/resources', async (req) => {
    const { kind, namespace } = req.query;
    if (kind !== undefined && !isKnownKind(kind)) throw unknownKind(kind, 'kind');
    const items = await counted('list', () =>
      store.list({ ...(kind ? { kind } : {}), ...(namespace ? { namespace } : {}) }),
    );
    return { items: items.map(withRevision) };
  });

  app.get<{ Params: RefParams }>('/v1/resources/:kind/:namespace/:name', async (req, reply) => {
    const ref = parseRef(req.params);
    const found = await counted('get', () => store.get(ref));
    if (!found) throw notFound(ref);
    return send(reply, 200, found);
  });

  app.put<{ Params: RefParams }>('/v1/resources/:kind/:namespace/:name', async (req, reply) => {
    const ref = parseRef(req.params);
    const { resource, bodyRevision } = admit(req.body, ref, (r) => engine.resource(r));
    const ifMatch = parseRevisionHeader(req.headers['if-match'], 'If-Match') ?? bodyRevision;
    const createOnly = req.headers['if-none-match'] === '*';
    let revision: number;
    let status = 200;
    if (createOnly) {
      revision = await counted('create', () => store.create(resource));
      status = 201;
    } else if (ifMatch !== undefined) {
      revision = await counted('update', () => store.update(resource, ifMatch)).catch((err) => {
        // A precondition on something that does not exist fails the precondition (RFC 9110).
        if ((err as FedmeshError).code === ErrorCode.NotFound) {
          throw new FedmeshError(ErrorCode.RevisionMismatch, `${describe(ref)} does not exist`, { cause: err });
        }
        throw err;
      });
    } else {
      const existed = engine.resource(ref) !== undefined;
      revision = await counted('put', () => store.put(resource));
      if (!existed) status = 201;
    }
    return send(reply, status, { resource, revision });
  });

  app.delete<{ Params: RefParams }>('/v1/resources/:kind/:namespace/:name', async (req) => {
    const ref = parseRef(req.params);
    const ifMatch = parseRevisionHeader(req.headers['if-match'], 'If-Match');
    const revision = await counted('delete', () => store.delete(ref, ifMatch));
    return { deleted: ref, revision };
  });
}

function send(reply: FastifyReply, status: number, s: StoredResource) {
  reply.code(status).header('etag', `"${s.revision}"`);
  return withRevision(s);
}

/** Responses carry the revision in `metadata.revision`, like Kubernetes' resourceVersion. */
function withRevision(s: StoredResource) {
  return { ...s.resource, metadata: { ...s.resource.metadata, revision: s.revision } };
}

export function parseRef(p: RefParams): ResourceRef {
  if (!isKnownKind(p.kind)) throw unknownKind(p.kind, 'kind');
  const kind = p.kind as Kind;
  if (isClusterScoped(kind)) {
    if (p.namespace !== CLUSTER_NAMESPACE) {
      throw invalid([{ path: 'namespace', message: `${kind} is cluster-scoped: use "${CLUSTER_NAMESPACE}"` }]);
    }
  } else if (!isDnsLabel(p.namespace)) {
    throw invalid([{ path: 'namespace', message: 'must be a DNS-1123 label (lowercase a-z, 0-9, "-", at most 63)' }]);
  }
  if (!isDnsLabel(p.name)) {
    throw invalid([{ path: 'name', message: 'must be a DNS-1123 label (lowercase a-z, 0-9, "-", at most 63)' }]);
  }
  return { kind, namespace: p.namespace, name: p.name };
}

/**
 * Turns a request body into a resource fit to store: schema-valid, consistent with the path,
 * and referring only to things that exist. `metadata.revision` from an earlier GET is accepted
 * and used as the expected revision, so get → edit → put is safe by default.
 */
export function admit(
  body: unknown,
  ref: ResourceRef | undefined,
  lookup: (ref: ResourceRef) => Resource | undefined,
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
    const issues = [];
    if (got.kind !== ref.kind) issues.push({ path: 'kind', message: `is "${got.kind}" but the path says "${ref.kind}"` });
    if (got.namespace !== ref.namespace) {
      issues.push({ path: 'metadata.namespace', message: `is "${got.namespace}" but the path says "${ref.namespace}"` });
    }
    if (got.name !== ref.name) issues.push({ path: 'metadata.name', message: `is "${got.name}" but the path says "${ref.name}"` });
    if (issues.length) throw invalid(issues, 'manifest does not match the URL');
  }
  const refIssues = checkReferences(resource, lookup);
  if (refIssues.length) throw invalid(refIssues, `invalid ${resource.kind} manifest`);
  return { resource, bodyRevision };
}

export function parseRevisionHeader(value: string | string[] | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const raw = (Array.isArray(value) ? value[0] : value)!.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  const n = Number(raw);
  if (raw === '' || !Number.isSafeInteger(n) || n < 0) {
    throw invalid([{ path: name, message: 'must be a revision as returned in ETag, e.g. "42"' }]);
  }
  return n;
}

function unknownKind(kind: string, path: string): FedmeshError {
  return invalid([{ path, message: `unknown kind "${kind.slice(0, 100)}"; valid kinds: ${KINDS.join(', ')}` }]);
}

function notFound(ref: ResourceRef): FedmeshError {
  return new FedmeshError(ErrorCode.NotFound, `${describe(ref)} not found`);
}

export function describe(ref: ResourceRef): string {
  return `${ref.kind} ${ref.namespace}/${ref.name}`;
}

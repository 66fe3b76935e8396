import {
  APPLY_ORDER,
  canonicalOrder,
  ErrorCode,
  FedmeshError,
  type FieldIssue,
  invalid,
  isFedmeshError,
  type Resource,
  refKey,
  refOf,
} from '@fedmesh/shared';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { eachConcurrently } from '../../concurrency.js';
import type { StoredResource } from '../../store/index.js';
import type { ApiDeps } from '../deps.js';
import { jsonPatch, readableDiff } from '../diff.js';
import {
  checkReferencesInStore,
  isStaleCopy,
  referenceWarningsInStore,
  sameContent,
  urgentOption,
  type WriteOptions,
  type Writer,
} from '../writes.js';
import { parseDocument } from './routes.js';
import { type ApplyItem, type ApplyResponse, ApplyResult, schemas } from './schemas.js';

export { type ApplyItem, type ApplyResponse, ApplyResult };

const GET_CONCURRENCY = 64;
/**
 * Writes of one kind in flight at once in an apply: a batch of 50 endpoint changes goes in one
 * wave (with 32, the second wave added a JetStream round trip and an audit append to every batch).
 */
const WRITE_CONCURRENCY = 64;

interface Planned {
  item: ApplyItem;
  resource: Resource;
  bodyRevision: number | undefined;
  current?: StoredResource;
  /** `current` is the config watch's copy, not a store read: the store has yet to confirm it. */
  fromCopy?: boolean;
}

export function registerApplyRoute(root: FastifyInstance, deps: ApiDeps, writer: Writer): void {
  const app = root.withTypeProvider<ZodTypeProvider>();
  // A bundle holds many resources; each document is still held to the per-resource limit.
  app.post('/v1/apply', { bodyLimit: deps.bodyLimit * 16, schema: schemas.apply }, async (req, reply) => {
    const dryRun = parseBool(req.query.dryRun, 'dryRun');
    const opts = urgentOption(req.query, req.headers);
    const docs = documentsOf(req.body);
    const { items, planned } = validate(docs, deps.bodyLimit);

    const batch = new Map(planned.map((p) => [refKey(refOf(p.resource)), p.resource]));
    const cache = new Map<string, Resource | null>();
    await eachConcurrently(planned, GET_CONCURRENCY, async (p) => {
      const issues = await checkReferencesInStore(p.resource, writer.referent, batch, cache);
      if (issues.length) markInvalid(p.item, issues, `invalid ${p.resource.kind} manifest`);
      else {
        const warnings = await referenceWarningsInStore(p.resource, writer.referent, batch, cache);
        if (warnings.length) p.item.warnings = warnings;
      }
    });
    await eachConcurrently(planned, GET_CONCURRENCY, async (p) => {
      if (p.item.result === ApplyResult.Invalid) return;
      // From the watch's copy when it has one: the write is pinned to the copy's revision, so the
      // store itself confirms the plan (a store read per document was a JetStream round trip
      // each). Dry runs show the store's own diff, and what only the store may answer
      // (unchanged, a conflict) is asked of it.
      const copy = dryRun ? undefined : writer.held(refOf(p.resource));
      if (copy !== undefined) {
        p.current = copy ?? undefined; // null: the watch holds none, so create-only
        p.fromCopy = true;
        plan(p, dryRun);
        if (writes(p)) return;
      }
      await planFromStore(p, writer, dryRun);
    });

    const failed = items.some((i) => i.result === ApplyResult.Invalid);
    let error: ApplyResponse['error'];
    let status: 200 | 400 | 409 | 500 | 503 = 200;
    if (failed) {
      status = 400;
      const n = items.filter((i) => i.result === ApplyResult.Invalid).length;
      error = {
        code: ErrorCode.Invalid,
        message: `${n} of ${items.length} documents are invalid; nothing was applied`,
      };
      if (!dryRun)
        for (const p of planned)
          if (p.item.result !== ApplyResult.Invalid) skip(p.item, 'not applied: other documents are invalid');
    } else if (!dryRun) {
      const outcome = await write(planned, writer, req.principal, opts);
      status = outcome.status;
      error = outcome.error;
    }
    if (!error && items.some((i) => i.result === ApplyResult.Conflict)) {
      status = 409;
      error = {
        code: ErrorCode.RevisionMismatch,
        message: 'some documents conflict with changes made since they were read',
      };
    }
    const body: ApplyResponse = { dryRun, summary: summarize(items), items, ...(error ? { error } : {}) };
    reply.code(status);
    return body;
  });
}

/** A JSON list, `{items: [...]}` (a List), one manifest, or the documents of a YAML stream. */
export function documentsOf(body: unknown): unknown[] {
  let docs: unknown;
  if (Array.isArray(body)) docs = body;
  else if (body && typeof body === 'object' && Array.isArray((body as { items?: unknown }).items)) {
    const { kind } = body as { kind?: unknown };
    if (kind !== undefined && kind !== 'List') {
      throw invalid([
        { path: 'kind', message: 'a body with "items" must be a List (kind: List or no kind)' },
      ]);
    }
    docs = (body as { items: unknown[] }).items;
  } else if (body && typeof body === 'object') docs = [body];
  else
    throw invalid([
      { path: '', message: 'body must be a list of manifests, {items: [...]}, or YAML documents' },
    ]);
  const list = docs as unknown[];
  if (list.length === 0) throw invalid([{ path: '', message: 'no documents to apply' }]);
  return list;
}

function validate(docs: unknown[], perDocumentLimit: number): { items: ApplyItem[]; planned: Planned[] } {
  const items: ApplyItem[] = [];
  const planned: Planned[] = [];
  const seen = new Map<string, number>();
  docs.forEach((doc, index) => {
    const item: ApplyItem = { index, ...identity(doc), result: ApplyResult.Invalid };
    items.push(item);
    const size = Buffer.byteLength(JSON.stringify(doc) ?? '');
    if (size > perDocumentLimit) {
      markInvalid(
        item,
        [{ path: '', message: `document is ${size} bytes; the limit is ${perDocumentLimit}` }],
        'too large',
      );
      return;
    }
    try {
      // In canonical order from here on: the no-op check below is then JSON.stringify, and the
      // writer takes it without another copy.
      const parsed = parseDocument(doc, undefined);
      const resource = canonicalOrder(parsed.resource);
      const { bodyRevision } = parsed;
      const ref = refOf(resource);
      Object.assign(item, { kind: ref.kind, namespace: ref.namespace, name: ref.name });
      const first = seen.get(refKey(ref));
      if (first !== undefined) {
        markInvalid(item, [{ path: 'metadata.name', message: `duplicates document ${first}` }], 'duplicate');
        return;
      }
      seen.set(refKey(ref), index);
      item.result = ApplyResult.Skipped; // until planned
      planned.push({ item, resource, bodyRevision });
    } catch (err) {
      if (!isFedmeshError(err, ErrorCode.Invalid)) throw err;
      markInvalid(item, [...err.issues], err.message);
    }
  });
  return { items, planned };
}

/** Plans `p` (again) against what the store holds now. */
async function planFromStore(p: Planned, writer: Writer, dryRun: boolean): Promise<void> {
  p.fromCopy = false;
  p.current = await writer.get(refOf(p.resource));
  delete p.item.message;
  delete p.item.revision;
  plan(p, dryRun);
}

/** Whether the plan writes the document. */
function writes(p: Planned): boolean {
  return p.item.result === ApplyResult.Created || p.item.result === ApplyResult.Updated;
}

/** What the document would do to the store; dry runs also say how. */
function plan(p: Planned, dryRun: boolean): void {
  if (p.item.result === ApplyResult.Invalid) return;
  const { current, resource, item } = p;
  if (p.bodyRevision !== undefined && current?.revision !== p.bodyRevision) {
    item.result = ApplyResult.Conflict;
    item.message = current
      ? `metadata.revision is ${p.bodyRevision} but the stored revision is ${current.revision}`
      : `metadata.revision is ${p.bodyRevision} but nothing is stored`;
    return;
  }
  item.result = !current
    ? ApplyResult.Created
    : sameContent(current.resource, resource)
      ? ApplyResult.Unchanged
      : ApplyResult.Updated;
  if (current) item.revision = current.revision;
  if (dryRun && item.result !== ApplyResult.Unchanged) {
    item.patch = jsonPatch(current?.resource, resource);
    item.diff = readableDiff(current?.resource, item.patch);
  }
}

async function write(
  planned: Planned[],
  writer: Writer,
  actor: Parameters<Writer['write']>[2],
  opts: WriteOptions,
): Promise<{ status: 200 | 500 | 503; error?: ApplyResponse['error'] }> {
  // Dependency order (the registry's), whatever the order of the files: a kind is written only
  // once every kind before it is. Within a kind the documents are independent (their own keys,
  // each pinned by its precondition), so up to WRITE_CONCURRENCY of them are in flight at once:
  // one after another, a batch of endpoint changes waited for a JetStream round trip each.
  const rank = (p: Planned) => APPLY_ORDER.indexOf(p.resource.kind);
  const ordered = [...planned]
    .sort((a, b) => rank(a) - rank(b) || a.item.index - b.item.index)
    .filter(writes);
  let failure: FedmeshError | undefined;
  // Audit entries are appended while the next kind is written, and all awaited before the answer.
  const audits: Promise<void>[] = [];
  const commit = async (p: Planned) => {
    const { item, current, resource } = p;
    // Preconditions pin the write to what was planned: a concurrent change is a conflict, not lost.
    const pre = current ? { ifMatch: current.revision } : { createOnly: true };
    const known = { current, canonical: true, deferAudit: true };
    const { outcome, revision, audited } = await writer.write(resource, pre, actor, opts, known);
    if (audited) audits.push(audited);
    item.result = outcome;
    item.revision = revision;
  };
  const one = async (p: Planned) => {
    const { item } = p;
    if (failure) return skip(item, 'not applied: the store failed on an earlier document');
    try {
      for (;;) {
        try {
          return await commit(p);
        } catch (err) {
          // The watch's copy was behind the store: planned again from the store, the document
          // fares as it would have without the copy. Once: a store plan is not retried.
          if (!p.fromCopy || !isStaleCopy(err)) throw err;
          await planFromStore(p, writer, false);
          if (!writes(p)) return;
        }
      }
    } catch (err) {
      if (isFedmeshError(err, ErrorCode.RevisionMismatch) || isFedmeshError(err, ErrorCode.AlreadyExists)) {
        item.result = ApplyResult.Conflict;
        item.message = err.message;
        return;
      }
      const e = isFedmeshError(err)
        ? err
        : new FedmeshError(ErrorCode.Internal, 'internal error', { cause: err });
      item.result = ApplyResult.Skipped;
      item.message = e.message;
      failure ??= e;
    }
  };
  for (let i = 0; i < ordered.length; ) {
    const kind = ordered[i]!.resource.kind;
    let end = i;
    while (end < ordered.length && ordered[end]!.resource.kind === kind) end++;
    await eachConcurrently(ordered.slice(i, end), WRITE_CONCURRENCY, one);
    i = end;
  }
  await Promise.all(audits);
  if (!failure) return { status: 200 };
  return {
    status: failure.code === ErrorCode.Unavailable ? 503 : 500,
    error: { code: failure.code, message: failure.message },
  };
}

function identity(doc: unknown): Pick<ApplyItem, 'kind' | 'namespace' | 'name'> {
  if (!doc || typeof doc !== 'object') return {};
  const { kind, metadata } = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  const out: Pick<ApplyItem, 'kind' | 'namespace' | 'name'> = {};
  const short = (v: unknown) => (typeof v === 'string' ? v.slice(0, 253) : undefined);
  if (short(kind)) out.kind = short(kind)!;
  if (metadata && typeof metadata === 'object') {
    if (short(metadata.namespace)) out.namespace = short(metadata.namespace)!;
    if (short(metadata.name)) out.name = short(metadata.name)!;
  }
  return out;
}

function markInvalid(item: ApplyItem, issues: FieldIssue[], message: string): void {
  item.result = ApplyResult.Invalid;
  item.message = message;
  item.issues = issues;
}

function skip(item: ApplyItem, message: string): void {
  item.result = ApplyResult.Skipped;
  item.message = message;
  delete item.patch;
  delete item.diff;
}

function summarize(items: ApplyItem[]): Record<ApplyResult, number> {
  const out = Object.fromEntries(Object.values(ApplyResult).map((r) => [r, 0])) as Record<
    ApplyResult,
    number
  >;
  for (const i of items) out[i.result]++;
  return out;
}

export function parseBool(v: unknown, name: string): boolean {
  if (v === undefined) return false;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid([{ path: name, message: 'must be "true" or "false", given once' }]);
}

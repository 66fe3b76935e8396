import { isDeepStrictEqual } from 'node:util';
import {
  agentOwner,
  CLUSTER_NAMESPACE,
  canonicalOrder,
  checkReferences,
  ErrorCode,
  FedmeshError,
  type FieldIssue,
  invalid,
  isFedmeshError,
  isInCanonicalOrder,
  type Logger,
  OWNER_ANNOTATION,
  type Resource,
  type ResourceLookup,
  type ResourceRef,
  referenceWarnings,
  refKey,
  refOf,
} from '@fedmesh/shared';
import { type AuditLog, AuditOp } from '../audit/index.js';
import type { HubMetrics } from '../metrics/index.js';
import type { ConfigStore, StoredResource } from '../store/index.js';
import type { Principal } from './auth.js';

/** What a write did; `unchanged` writes nothing, so it moves no revision and no region view. */
export const Outcome = { Created: 'created', Updated: 'updated', Unchanged: 'unchanged' } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

export interface Precondition {
  /** Write only if the stored revision is this one (412 otherwise, also when absent). */
  ifMatch?: number;
  /** Write only if nothing is stored (409 otherwise). */
  createOnly?: boolean;
}

/** How a write travels: `urgent` sends it on the urgent lane of regions whose line is behind. */
export interface WriteOptions {
  urgent?: boolean;
}

/**
 * What the caller read of the resource just before, when the precondition pins the write to it
 * (`ifMatch` its revision, or `createOnly` and absent): the write need not read it again. An apply
 * plans every document against the store before writing; the second read was a JetStream round
 * trip per document for nothing, since the store enforces the precondition itself.
 */
export interface Known {
  current: StoredResource | undefined;
  /** The resource is in canonical order already (an apply puts it so at validation): no need to walk it to check. */
  canonical?: boolean;
  /**
   * Return once the store has the write, with the audit entry's append in `audited`: an apply
   * writes the next kind meanwhile and awaits every entry before it answers.
   */
  deferAudit?: boolean;
}

/**
 * What a write did. `audited` is there when the caller asked to collect the audit entry itself
 * (`Known.deferAudit`): it settles once the entry is recorded (or logged as lost), never rejects.
 */
export interface Written {
  outcome: Outcome;
  revision: number;
  audited?: Promise<void>;
}

/** The one write path of the API: store, metrics and audit stay consistent whoever writes. */
export interface Writer {
  get(ref: ResourceRef): Promise<StoredResource | undefined>;
  /**
   * A resource that another one names, for reference checks: from the hub's config watch when it
   * holds it, from the store otherwise (it may have been created a moment ago, and the watch
   * not have it yet). A referent the watch holds exists; that the store may have deleted it
   * since is a race a store read has as well (nothing locks it until the write), and the read
   * was a JetStream round trip per referent on every write.
   */
  referent(ref: ResourceRef): Promise<{ resource: Resource } | undefined>;
  /**
   * The config watch's copy of a resource and the revision it was written at; null when the
   * watch holds none; undefined when it cannot say (no watch here, or this writer deleted the
   * resource a moment ago and the watch still holds it). The copy may lag the store: a write
   * planned from it is pinned to what it says (its revision, or create-only), so the store
   * refuses it when it is stale, and the caller plans again from the store.
   */
  held(ref: ResourceRef): StoredResource | null | undefined;
  write(
    resource: Resource,
    pre: Precondition,
    actor: Principal,
    opts?: WriteOptions,
    known?: Known,
  ): Promise<Written>;
  delete(
    ref: ResourceRef,
    ifMatch: number | undefined,
    actor: Principal,
    opts?: WriteOptions,
  ): Promise<number>;
  /** Store operation counted in `fedmesh_hub_store_operations_total`. */
  counted<T>(op: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * How long a deletion made here sends reference checks of it to the store: well past the config
 * watch's lag, which the engine's stall check bounds at a few seconds.
 */
const DELETION_MEMORY_MS = 30_000;

export function createWriter(deps: {
  store: ConfigStore;
  audit: AuditLog;
  metrics: HubMetrics;
  logger: Logger;
  /** Told before the store write, so the mark is there when the change comes back on the watch. */
  onUrgent?: (ref: ResourceRef) => void;
  /** What the config watch holds (the sync engine's copy); without it every read goes to the store. */
  cached?: (ref: ResourceRef) => StoredResource | undefined;
}): Writer {
  const { store, audit, metrics } = deps;
  const mark = (ref: ResourceRef, opts: WriteOptions | undefined) => {
    if (opts?.urgent) deps.onUrgent?.(ref);
  };
  const log = deps.logger.child({ component: 'api' });

  const counted = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      const out = await fn();
      metrics.storeOps.inc({ op, result: 'ok' });
      return out;
    } catch (err) {
      metrics.storeOps.inc({ op, result: isFedmeshError(err) ? err.code : 'error' });
      throw err;
    } finally {
      metrics.storeDuration.observe({ op }, (performance.now() - started) / 1000);
    }
  };

  /**
   * The write has happened by now, so failing the request would invite a retry of something
   * that succeeded. A lost entry is logged in full instead, and counted.
   */
  const record = async (op: AuditOp, ref: ResourceRef, revision: number, actor: Principal) => {
    const entry = {
      revision,
      time: new Date().toISOString(),
      actor: actor.name,
      role: actor.role,
      op,
      ...ref,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await counted('audit_append', () => audit.append(entry));
      } catch (err) {
        if (attempt >= 2) {
          log.error({ err, audit: entry }, 'audit entry not recorded');
          return;
        }
      }
    }
  };

  const get = (ref: ResourceRef) => counted('get', () => store.get(ref));

  /** The write's answer once its audit entry is recorded, or at once with the append in `audited`. */
  const audited = async (
    outcome: Outcome,
    op: AuditOp,
    ref: ResourceRef,
    revision: number,
    actor: Principal,
    known: Known | undefined,
  ): Promise<Written> => {
    const appended = record(op, ref, revision, actor);
    if (known?.deferAudit) return { outcome, revision, audited: appended };
    await appended;
    return { outcome, revision };
  };

  // Deletions made through this writer, by time, for as long as the watch may lag behind them.
  const deletions = new Map<string, number>();
  const deleted = (ref: ResourceRef) => {
    const now = Date.now();
    for (const [key, at] of deletions) {
      if (now - at < DELETION_MEMORY_MS) break;
      deletions.delete(key);
    }
    const key = refKey(ref);
    deletions.delete(key); // re-inserted at the end: the map stays in time order
    deletions.set(key, now);
  };
  const deletedLately = (ref: ResourceRef) => {
    const at = deletions.get(refKey(ref));
    return at !== undefined && Date.now() - at < DELETION_MEMORY_MS;
  };

  // What this hub deleted a moment ago may still be in the watch's copy: such reads go to the
  // store, so that a write naming it right after its deletion is refused, as it was before.
  const held = (ref: ResourceRef): StoredResource | null | undefined => {
    if (!deps.cached) return undefined;
    const copy = deps.cached(ref);
    if (!copy) return null;
    return deletedLately(ref) ? undefined : copy;
  };

  /**
   * An update planned from the watch's copy: undefined when that copy turns out not to be the
   * store's (the store refused the revision, or the resource is gone), or when the write would do
   * nothing or be refused (those answers are given from the store, never from a copy that may lag).
   */
  const updateFromHeld = async (
    resource: Resource,
    ref: ResourceRef,
    copy: StoredResource,
    actor: Principal,
  ): Promise<Written | undefined> => {
    if (sameContent(copy.resource, resource)) return undefined;
    try {
      checkOwner(copy, ref, actor);
      const revision = await counted('update', () => store.update(resource, copy.revision));
      return audited(Outcome.Updated, AuditOp.Update, ref, revision, actor, undefined);
    } catch (err) {
      if (isStaleCopy(err)) return undefined;
      throw err;
    }
  };

  return {
    get,
    held,
    async referent(ref) {
      // One the watch does not hold may have been created a moment ago: the store says.
      return held(ref) ?? get(ref);
    },
    counted,
    async write(given, pre, actor, opts, known) {
      // Held, stored and hashed with its members in canonical order: every canonical encoding of
      // it downstream (the no-op check, view digests, deltas) is then a plain JSON.stringify.
      const resource = known?.canonical || isInCanonicalOrder(given) ? given : canonicalOrder(given);
      const ref = refOf(resource);
      mark(ref, opts);
      if (pre.createOnly) {
        const revision = await counted('create', () => store.create(resource));
        return audited(Outcome.Created, AuditOp.Create, ref, revision, actor, known);
      }
      // The watch's copy saves the store read (a JetStream round trip per write) when the store
      // confirms it by taking the write pinned to its revision; anything else reads the store.
      const copy = known ? undefined : held(ref);
      if (copy && (pre.ifMatch === undefined || pre.ifMatch === copy.revision)) {
        const done = await updateFromHeld(resource, ref, copy, actor);
        if (done) return done;
      }
      const pinned = known && pre.ifMatch !== undefined && known.current?.revision === pre.ifMatch;
      const current = pinned ? known.current : await get(ref);
      checkOwner(current, ref, actor);
      if (pre.ifMatch !== undefined) {
        if (!current) throw new FedmeshError(ErrorCode.RevisionMismatch, `${describe(ref)} does not exist`);
        if (current.revision !== pre.ifMatch) throw staleRevision(ref, pre.ifMatch, current.revision);
      }
      // A pinned write was planned as a change against exactly this revision: no need to compare again.
      if (current && !pinned && sameContent(current.resource, resource)) {
        return { outcome: Outcome.Unchanged, revision: current.revision };
      }
      if (!current) {
        try {
          const revision = await counted('create', () => store.create(resource));
          return audited(Outcome.Created, AuditOp.Create, ref, revision, actor, known);
        } catch (err) {
          // Someone created it since the read; without a precondition the last writer wins.
          if (!isFedmeshError(err, ErrorCode.AlreadyExists)) throw err;
        }
      }
      const revision =
        pre.ifMatch !== undefined
          ? await counted('update', () => store.update(resource, pre.ifMatch!))
          : await counted('put', () => store.put(resource));
      return audited(Outcome.Updated, AuditOp.Update, ref, revision, actor, known);
    },
    async delete(ref, ifMatch, actor, opts) {
      if (ref.kind === 'ServiceEndpoints') checkOwner(await get(ref), ref, actor);
      mark(ref, opts);
      const revision = await counted('delete', () => store.delete(ref, ifMatch));
      deleted(ref);
      await record(AuditOp.Delete, ref, revision, actor);
      return revision;
    },
  };
}

/**
 * What the store says when a copy of a resource is not what it holds: another revision, gone, or
 * owned by someone else (`checkOwner` on the copy; the store read then decides).
 */
export function isStaleCopy(err: unknown): boolean {
  return (
    isFedmeshError(err, ErrorCode.RevisionMismatch) ||
    isFedmeshError(err, ErrorCode.NotFound) ||
    isFedmeshError(err, ErrorCode.AlreadyExists)
  );
}

/**
 * `?urgent=true` (or the header `Fedmesh-Urgent: true`) on a write: its changes go on the urgent
 * lane. Anything but true/false (or 1/0) is a 400 naming the parameter.
 */
export function urgentOption(query: unknown, headers: Record<string, unknown>): WriteOptions {
  const q = (query as { urgent?: unknown } | undefined)?.urgent;
  const read = (v: unknown, name: string): boolean | undefined => {
    if (v === undefined) return undefined;
    if (v === 'true' || v === '1' || v === '') return true;
    if (v === 'false' || v === '0') return false;
    throw invalid([{ path: name, message: 'must be true or false' }]);
  };
  const urgent = read(q, 'urgent') ?? read(headers['fedmesh-urgent'], 'Fedmesh-Urgent') ?? false;
  return urgent ? { urgent } : {};
}

/**
 * Stored and new compare by content, so key order never counts as a change. Node's deep strict
 * equality ignores key order and stops at the first difference: an endpoint change of a
 * 28-endpoint ServiceEndpoints compares in 3 µs against 58 µs for two canonical JSON texts, which
 * were 2.6 % of the hub under sustained batches. Where the two could differ (a member set to
 * undefined, -0 against 0) canonical JSON would call them equal: the write then happens, with
 * the same content, and nothing is lost.
 */
export function sameContent(a: Resource, b: Resource): boolean {
  return isDeepStrictEqual(a, b);
}

/**
 * Reference checks against the store (the sync engine's copy may lag a write that just
 * happened) and, first, against `batch` (the other documents of an apply).
 */
export function checkReferencesInStore(
  resource: Resource,
  get: (ref: ResourceRef) => Promise<{ resource: Resource } | undefined>,
  batch: ReadonlyMap<string, Resource> = new Map(),
  cache: Map<string, Resource | null> = new Map(),
): Promise<FieldIssue[]> {
  return lookingUpInStore(checkReferences, resource, get, batch, cache);
}

/** What a write of `resource` should warn of (`referenceWarnings`), looked up like the checks. */
export function referenceWarningsInStore(
  resource: Resource,
  get: (ref: ResourceRef) => Promise<{ resource: Resource } | undefined>,
  batch: ReadonlyMap<string, Resource> = new Map(),
  cache: Map<string, Resource | null> = new Map(),
): Promise<FieldIssue[]> {
  return lookingUpInStore(referenceWarnings, resource, get, batch, cache);
}

/**
 * `check` looks up synchronously, so the refs it asks for are recorded, fetched, and the check
 * rerun.
 */
async function lookingUpInStore(
  check: (resource: Resource, lookup: ResourceLookup) => FieldIssue[],
  resource: Resource,
  get: (ref: ResourceRef) => Promise<{ resource: Resource } | undefined>,
  batch: ReadonlyMap<string, Resource>,
  cache: Map<string, Resource | null>,
): Promise<FieldIssue[]> {
  for (let round = 0; ; round++) {
    const missing = new Map<string, ResourceRef>();
    const issues = check(resource, (ref) => {
      const key = refKey(ref);
      const inBatch = batch.get(key);
      if (inBatch) return inBatch;
      const cached = cache.get(key);
      if (cached === undefined) missing.set(key, ref);
      return cached ?? undefined;
    });
    // Lookups do not depend on earlier answers beyond one policy choice, so two rounds settle it.
    if (missing.size === 0 || round >= 3) return issues;
    await Promise.all(
      [...missing].map(async ([key, ref]) => {
        cache.set(key, (await get(ref))?.resource ?? null);
      }),
    );
  }
}

/**
 * `Warning: 299 - "<path>: <message>"` (RFC 9110 §5.6.4 quoted strings; the form Kubernetes uses
 * for admission warnings): the body of a single-resource write is the manifest itself, which a
 * client may send back as it is, so a field added to it would be refused as unknown.
 */
export function warningHeaders(warnings: readonly FieldIssue[]): string[] {
  return warnings.map((w) => {
    const text = `${w.path ? `${w.path}: ` : ''}${w.message}`.replace(/[^\x20-\x7e]/g, '?');
    return `299 - "${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  });
}

/**
 * Ownership (DESIGN.md "Discovery and the uplink"): a ServiceEndpoints a region's agent reports is
 * that agent's; nobody else writes or deletes it (409 naming the owner), and an agent writes
 * nothing another owns.
 */
function checkOwner(current: StoredResource | undefined, ref: ResourceRef, actor: Principal): void {
  const owner = current?.resource.metadata.annotations?.[OWNER_ANNOTATION];
  if (owner === undefined) return;
  if (actor.agentOf !== undefined && owner === agentOwner(actor.agentOf)) return;
  throw new FedmeshError(
    ErrorCode.AlreadyExists,
    `${describe(ref)} is owned by ${owner.replace('agent/', 'the agent of region ')}, which discovers these endpoints; ` +
      'register or deregister them there',
    { details: { owner } },
  );
}

export function staleRevision(ref: ResourceRef, expected: number, current: number): FedmeshError {
  return new FedmeshError(
    ErrorCode.RevisionMismatch,
    `${describe(ref)} is at revision ${current}, not ${expected}`,
    {
      details: { currentRevision: current },
    },
  );
}

export function describe(ref: ResourceRef): string {
  return ref.namespace === CLUSTER_NAMESPACE
    ? `${ref.kind} ${ref.name}`
    : `${ref.kind} ${ref.namespace}/${ref.name}`;
}

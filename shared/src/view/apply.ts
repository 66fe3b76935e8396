import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { ErrorCode, FedmeshError } from '../errors.js';
import { type DeltaPayload, type EnvelopeMeta, MessageType, type SnapshotPayload } from '../wire/envelope.js';
import { viewHash } from './hash.js';
import { ViewState } from './state.js';
import type { RegionView, ViewResource } from './types.js';

const { applyPatch, unescapePathComponent } = fastJsonPatch;

export type ApplyOutcome =
  | { kind: 'applied'; view: RegionView }
  /** Already held (redelivery, or a replica's duplicate): nothing to do. */
  | { kind: 'skipped'; reason: string };

/**
 * Applies one decoded sync payload to the held view, all or nothing: the result is built
 * beside the held view and checked against the hash the hub announced before it replaces
 * anything. Throws `version_gap`, `hash_mismatch` or `decode_failed`; the held view is untouched.
 *
 * `cache`, when given, must mirror `held.resources`; it keeps the view hash incrementally, so a
 * delta costs the size of the change instead of re-hashing the whole view. On success it mirrors
 * the new view, on failure it is rolled back. Both the agent's sync client and its state loader
 * verify through here: one verified apply, with the hub's hash, in shared.
 */
export function applyPayload(
  held: RegionView,
  meta: EnvelopeMeta,
  payload: unknown,
  cache: ViewState = mirror(held.resources),
): ApplyOutcome {
  if (meta.toVersion < held.version || (meta.toVersion === held.version && meta.toHash === held.hash)) {
    return { kind: 'skipped', reason: `already at version ${held.version}` };
  }
  if (meta.type === MessageType.Snapshot) {
    const p = payload as Partial<SnapshotPayload> | null;
    if (!p || typeof p.resources !== 'object' || p.resources === null || Array.isArray(p.resources)) {
      throw new FedmeshError(ErrorCode.DecodeFailed, 'snapshot payload has no resources map');
    }
    // The mirror re-hashes only what the snapshot changed against the held view.
    resetMirror(cache, held.resources, p.resources);
    const hash = cache.hash();
    if (hash !== meta.toHash) {
      resetMirror(cache, p.resources, held.resources);
      throw new FedmeshError(
        ErrorCode.HashMismatch,
        `view hash ${hash} after applying does not match ${meta.toHash}`,
      );
    }
    return {
      kind: 'applied',
      view: { region: held.region, version: meta.toVersion, hash, resources: p.resources },
    };
  }
  if (meta.fromVersion !== held.version) {
    throw new FedmeshError(
      ErrorCode.VersionGap,
      `delta ${meta.fromVersion}→${meta.toVersion} does not start at the held version ${held.version}`,
    );
  }
  const p = payload as Partial<DeltaPayload> | null;
  if (!p || !Array.isArray(p.ops)) throw new FedmeshError(ErrorCode.DecodeFailed, 'delta payload has no ops');
  const touched = touchedKeys(p.ops);
  // Copy on write: a shallow copy of the map, deep copies only of the entries the ops touch.
  const resources: Record<string, ViewResource> = { ...held.resources };
  for (const key of touched) {
    const entry = resources[key];
    if (entry !== undefined) resources[key] = structuredClone(entry);
  }
  try {
    applyPatch(resources, p.ops, true, true);
  } catch (err) {
    throw new FedmeshError(ErrorCode.DecodeFailed, `delta does not apply: ${(err as Error).message}`, {
      cause: err,
    });
  }
  for (const key of touched) cache.set(key, resources[key]);
  const hash = cache.hash();
  if (hash !== meta.toHash) {
    for (const key of touched) cache.set(key, held.resources[key]);
    throw new FedmeshError(
      ErrorCode.HashMismatch,
      `view hash ${hash} after applying does not match ${meta.toHash}`,
    );
  }
  return { kind: 'applied', view: { region: held.region, version: meta.toVersion, hash, resources } };
}

/** A ViewState holding exactly `resources`. */
export function mirror(resources: Readonly<Record<string, ViewResource>>): ViewState {
  const state = new ViewState();
  for (const [key, value] of Object.entries(resources)) state.set(key, value);
  return state;
}

function resetMirror(
  cache: ViewState,
  before: Readonly<Record<string, ViewResource>>,
  after: Readonly<Record<string, ViewResource>>,
): void {
  for (const key of Object.keys(before)) if (!(key in after)) cache.set(key, undefined);
  for (const [key, value] of Object.entries(after)) cache.set(key, value);
}

/** Top-level view keys an op sequence reads or writes (the first segment of each path). */
function touchedKeys(ops: readonly Operation[]): Set<string> {
  const keys = new Set<string>();
  const add = (path: unknown) => {
    if (typeof path !== 'string' || !path.startsWith('/')) return;
    const end = path.indexOf('/', 1);
    keys.add(unescapePathComponent(end < 0 ? path.slice(1) : path.slice(1, end)));
  };
  for (const op of ops) {
    add(op.path);
    if ('from' in op) add(op.from);
  }
  return keys;
}

export function emptyView(region: string): RegionView {
  return { region, version: 0, hash: viewHash({}), resources: {} };
}

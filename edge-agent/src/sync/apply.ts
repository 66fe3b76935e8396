import {
  type DeltaPayload,
  type EnvelopeMeta,
  ErrorCode,
  FedmeshError,
  MessageType,
  type RegionView,
  type SnapshotPayload,
  type ViewResource,
  viewHash,
} from '@fedmesh/shared';
import fastJsonPatch from 'fast-json-patch';

const { applyPatch } = fastJsonPatch;

export type ApplyOutcome =
  | { kind: 'applied'; view: RegionView }
  /** Already held (redelivery, or a replica's duplicate): nothing to do. */
  | { kind: 'skipped'; reason: string };

/**
 * Applies one decoded sync payload to the held view, all or nothing: the result is built on a
 * copy and checked against the hash the hub announced before it replaces anything.
 * Throws `version_gap`, `hash_mismatch` or `decode_failed`; the held view is untouched then.
 */
export function applyPayload(held: RegionView, meta: EnvelopeMeta, payload: unknown): ApplyOutcome {
  if (meta.toVersion < held.version || (meta.toVersion === held.version && meta.toHash === held.hash)) {
    return { kind: 'skipped', reason: `already at version ${held.version}` };
  }
  let resources: Record<string, ViewResource>;
  if (meta.type === MessageType.Snapshot) {
    const p = payload as Partial<SnapshotPayload> | null;
    if (!p || typeof p.resources !== 'object' || p.resources === null || Array.isArray(p.resources)) {
      throw new FedmeshError(ErrorCode.DecodeFailed, 'snapshot payload has no resources map');
    }
    resources = p.resources;
  } else {
    if (meta.fromVersion !== held.version) {
      throw new FedmeshError(
        ErrorCode.VersionGap,
        `delta ${meta.fromVersion}→${meta.toVersion} does not start at the held version ${held.version}`,
      );
    }
    const p = payload as Partial<DeltaPayload> | null;
    if (!p || !Array.isArray(p.ops))
      throw new FedmeshError(ErrorCode.DecodeFailed, 'delta payload has no ops');
    try {
      resources = applyPatch(structuredClone(held.resources), p.ops, true, true).newDocument;
    } catch (err) {
      throw new FedmeshError(ErrorCode.DecodeFailed, `delta does not apply: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const hash = viewHash(resources);
  if (hash !== meta.toHash) {
    throw new FedmeshError(
      ErrorCode.HashMismatch,
      `view hash ${hash} after applying does not match ${meta.toHash}`,
    );
  }
  return { kind: 'applied', view: { region: held.region, version: meta.toVersion, hash, resources } };
}

export function emptyView(region: string): RegionView {
  return { region, version: 0, hash: viewHash({}), resources: {} };
}

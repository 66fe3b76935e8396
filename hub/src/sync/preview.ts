import { type Resource, resourceViewKey, viewHash } from '@fedmesh/shared';
import { scopeRegion } from '../scope/index.js';
import { diffResources } from './delta.js';
import { type EncodeOptions, encodeDelta } from './encoder.js';
import type { RegionPreview } from './types.js';

export interface PreviewInput {
  region: string;
  config: Iterable<Resource>;
  proposed: readonly Resource[];
  /** The region's version now, and the one the change would get: they shape the envelope's size. */
  fromVersion: number;
  toVersion: number;
  encode: EncodeOptions;
}

/**
 * Computed from scratch with the reference scoper: a preview is an operator's question, not
 * a hot path, and answering it must not touch the live views.
 */
export async function previewRegion(input: PreviewInput): Promise<RegionPreview> {
  const { region } = input;
  const current = new Map<string, Resource>();
  for (const r of input.config) current.set(resourceViewKey(r), r);
  const next = new Map(current);
  for (const r of input.proposed) next.set(resourceViewKey(r), r);
  const before = scopeRegion(region, current.values());
  const after = scopeRegion(region, next.values());
  const ops = diffResources(before, after, [...Object.keys(before), ...Object.keys(after)]);
  const toHash = viewHash(after);
  const msgs = ops.length
    ? await encodeDelta(region, input.fromVersion, input.toVersion, toHash, ops, input.encode)
    : [];
  return {
    region,
    fromHash: viewHash(before),
    toHash,
    ops,
    codec: input.encode.codec,
    rawBytes: msgs[0]?.meta.rawSize ?? 0,
    encodedBytes: msgs.reduce((n, m) => n + m.data.byteLength, 0),
    messages: msgs.length,
  };
}

import type { ViewResource } from '@fedmesh/shared';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { RegionChanges } from '../scope/index.js';

// fast-json-patch is CommonJS: Node's ESM loader only sees its default export.
const { compare, escapePathComponent } = fastJsonPatch;

/**
 * RFC 6902 ops for a region's changed entries, and only those: the cost follows the size of
 * the change, not of the view. A changed resource is patched field by field when that is
 * smaller than replacing it whole. Keys are visited in sorted order so that the same change
 * always yields byte-identical ops.
 */
export function opsFromChanges(changes: RegionChanges): Operation[] {
  const ops: Operation[] = [];
  for (const key of [...changes.keys()].sort()) {
    const { before, after } = changes.get(key)!;
    ops.push(...diffEntry(key, before, after));
  }
  return ops;
}

/** Ops that turn `before` into `after` for the named keys (used by previews and tests). */
export function diffResources(
  before: Readonly<Record<string, ViewResource>>,
  after: Readonly<Record<string, ViewResource>>,
  keys: Iterable<string>,
): Operation[] {
  const ops: Operation[] = [];
  for (const key of [...new Set(keys)].sort()) ops.push(...diffEntry(key, before[key], after[key]));
  return ops;
}

function diffEntry(key: string, a: ViewResource | undefined, b: ViewResource | undefined): Operation[] {
  const path = `/${escapePathComponent(key)}`;
  if (a === b) return [];
  if (a === undefined) return b === undefined ? [] : [{ op: 'add', path, value: b }];
  if (b === undefined) return [{ op: 'remove', path }];
  const fine = compare(a, b).map((op) => ({ ...op, path: path + op.path }));
  if (fine.length === 0) return [];
  const whole: Operation = { op: 'replace', path, value: b };
  return JSON.stringify(fine).length < JSON.stringify(whole).length ? fine : [whole];
}

import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { ViewResource } from '@fedmesh/shared';

// fast-json-patch is CommonJS: Node's ESM loader only sees its default export.
const { compare, escapePathComponent } = fastJsonPatch;

/**
 * RFC 6902 ops that turn `before` into `after`, computed only over the keys that changed: the
 * caller names them, so the cost follows the size of the change, not of the view. A changed
 * resource is patched field by field when that is smaller than replacing it whole.
 */
export function diffResources(
  before: Readonly<Record<string, ViewResource>>,
  after: Readonly<Record<string, ViewResource>>,
  changedKeys: Iterable<string>,
): Operation[] {
  const ops: Operation[] = [];
  for (const key of [...new Set(changedKeys)].sort()) {
    const path = `/${escapePathComponent(key)}`;
    const a = before[key];
    const b = after[key];
    if (a === b) continue;
    if (a === undefined && b !== undefined) ops.push({ op: 'add', path, value: b });
    else if (a !== undefined && b === undefined) ops.push({ op: 'remove', path });
    else if (a !== undefined && b !== undefined) {
      const fine = compare(a, b).map((op) => ({ ...op, path: path + op.path }));
      if (fine.length === 0) continue;
      const whole: Operation = { op: 'replace', path, value: b };
      ops.push(...(JSON.stringify(fine).length < JSON.stringify(whole).length ? fine : [whole]));
    }
  }
  return ops;
}

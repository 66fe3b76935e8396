import fastJsonPatch, { type Operation } from 'fast-json-patch';

// fast-json-patch is CommonJS: Node's ESM loader only sees its default export.
const { compare, getValueByPointer } = fastJsonPatch;

const MAX_VALUE_CHARS = 200;

/** RFC 6902 operations that turn `before` (absent: nothing stored) into `after`. */
export function jsonPatch(before: object | undefined, after: object): Operation[] {
  return compare(before ?? {}, after);
}

/**
 * One line per operation, for people: `+ /path: value`, `- /path: old`, `~ /path: old → new`.
 * JSON Patch alone does not say what a replaced value was, which is what a reviewer asks first.
 */
export function readableDiff(before: object | undefined, ops: readonly Operation[]): string[] {
  const old = (path: string) => {
    try {
      return show(getValueByPointer(before ?? {}, path));
    } catch {
      return '?';
    }
  };
  return ops.map((op) => {
    switch (op.op) {
      case 'add':
        return `+ ${op.path}: ${show(op.value)}`;
      case 'remove':
        return `- ${op.path}: ${old(op.path)}`;
      case 'replace':
        return `~ ${op.path}: ${old(op.path)} → ${show(op.value)}`;
      default:
        return `${op.op} ${op.path}`;
    }
  });
}

function show(v: unknown): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

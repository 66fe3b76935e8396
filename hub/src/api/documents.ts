/**
 * Request bodies as plain values, bounded before anything walks them (DESIGN.md, "Trust"): a
 * document nested deeper than `MAX_DEPTH`, or a YAML document with aliases (the `a: &a [*a]` that
 * makes a cycle, or a web of references that expands), is a 400 naming the document, never a
 * stack overflow in whatever walks it next. The yaml library's composer itself runs out of
 * memory on flow collections nested some 100,000 deep, so YAML is measured on its syntax tree
 * (which its parser builds without recursion) before it is composed.
 */
import { ErrorCode, FedmeshError, invalid } from '@fedmesh/shared';
import { Composer, isCollection, LineCounter, Parser, visit } from 'yaml';

/** Deepest nesting of objects and arrays a manifest may have; real ones stay under 10. */
export const MAX_DEPTH = 64;

/**
 * The values of a YAML body: one document as itself, several as a list. Empty documents (a
 * trailing `---`) are left out.
 */
export function parseYamlBody(text: string): unknown {
  // Parsed to the CST first (stack-safe), measured there, and only then composed into values.
  const lines = new LineCounter();
  const tokens = Array.from(new Parser(lines.addNewLine).parse(text));
  const depth = cstDepth(tokens);
  if (depth > MAX_DEPTH) {
    throw new FedmeshError(
      ErrorCode.Invalid,
      `YAML nests deeper than ${MAX_DEPTH} levels (${depth > 10 * MAX_DEPTH ? 'far more' : depth}); manifests need far fewer`,
    );
  }
  const docs = Array.from(new Composer({}).compose(tokens));
  const values: unknown[] = [];
  for (const [i, doc] of docs.entries()) {
    const where = docs.length > 1 ? `YAML document ${i + 1}` : 'the YAML document';
    const error = doc.errors[0];
    if (error) {
      const { line, col } = lines.linePos(error.pos[0]);
      throw new FedmeshError(
        ErrorCode.Invalid,
        `malformed YAML (${where}, line ${line}, column ${col}): ${error.message}`,
      );
    }
    let alias: string | undefined;
    let collectionKey = false;
    visit(doc, {
      Alias(_, node) {
        alias = node.source;
        return visit.BREAK;
      },
      Pair(_, pair) {
        // `? [a, b] : c`: JSON has no such key; the library would stringify it with a warning.
        if (isCollection(pair.key)) {
          collectionKey = true;
          return visit.BREAK;
        }
        return undefined;
      },
    });
    if (collectionKey)
      throw invalid([{ path: '', message: 'uses a list or a map as a key; keys are strings' }], where);
    if (alias !== undefined) {
      throw invalid(
        [
          {
            path: '',
            message: `uses the YAML alias *${alias}; aliases are not accepted, write the value out`,
          },
        ],
        where,
      );
    }
    const value = doc.toJS();
    if (value === null || value === undefined) continue;
    checkDepth(value, where);
    values.push(value);
  }
  return values.length === 1 ? values[0] : values;
}

/** How deep collections nest in YAML CST tokens (block and flow alike), without recursion. */
function cstDepth(tokens: readonly object[]): number {
  let max = 0;
  const stack: { t: unknown; depth: number }[] = tokens.map((t) => ({ t, depth: 0 }));
  while (stack.length > 0) {
    const { t, depth } = stack.pop()!;
    if (t === null || typeof t !== 'object') continue;
    const token = t as { type?: string; value?: unknown; items?: { key?: unknown; value?: unknown }[] };
    if (token.type === 'document') {
      stack.push({ t: token.value, depth });
      continue;
    }
    if (!Array.isArray(token.items)) continue;
    max = Math.max(max, depth + 1);
    if (max > 10 * MAX_DEPTH) return max; // far enough to refuse; no need to walk the rest
    for (const item of token.items) {
      stack.push({ t: item.key, depth: depth + 1 });
      stack.push({ t: item.value, depth: depth + 1 });
    }
  }
  return max;
}

/**
 * Throws a 400 when `value` nests deeper than `MAX_DEPTH`. Iterative, so the check itself
 * cannot overflow the stack, and it stops at the first path too deep.
 */
export function checkDepth(value: unknown, where = 'the document'): void {
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_DEPTH) {
      throw invalid(
        [{ path: shorten(path), message: `nests deeper than ${MAX_DEPTH} levels; manifests need far fewer` }],
        where,
      );
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++)
        stack.push({ v: v[i], depth: depth + 1, path: join(path, String(i)) });
    } else {
      for (const [k, child] of Object.entries(v))
        stack.push({ v: child, depth: depth + 1, path: join(path, k) });
    }
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function shorten(path: string): string {
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

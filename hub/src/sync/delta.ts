import type { ViewResource } from '@fedmesh/shared';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import type { RegionChanges } from '../scope/index.js';

// fast-json-patch is CommonJS: Node's ESM loader only sees its default export.
const { escapePathComponent } = fastJsonPatch;

/*
 * Why a diff of our own instead of fast-json-patch's `compare`: `compare` diffs arrays by index,
 * so removing one endpoint from a list of 150 shifted every later item and cost a `replace` for
 * each of them, O(list) for an O(1) change. A region line is budgeted, and endpoint churn is
 * the commonest change there is. Here lists whose items have an identity (endpoints by
 * `address:port`, ports and subsets by `name`, route backends by `subset`) are matched by that
 * identity, so one endpoint removed, added or flipped is one op. Lists without a usable
 * identity (missing on some item, or not unique) are diffed by position, as before.
 *
 * The ops stay plain RFC 6902 with standard index semantics: the agent applies them in order
 * with fast-json-patch `applyPatch`, so every index below is the index at the moment its op
 * runs, after the earlier ops on the same list.
 */

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
  const fine: Operation[] = [];
  diffValue(a, b, path, fine);
  if (fine.length === 0) return [];
  const whole: Operation = { op: 'replace', path, value: b };
  return JSON.stringify(fine).length < JSON.stringify(whole).length ? fine : [whole];
}

type Json = unknown;
type JsonObject = Record<string, Json>;

const isObject = (v: Json): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Appends to `ops` what turns `a` into `b` at `path`; nothing when they are equal. */
function diffValue(a: Json, b: Json, path: string, ops: Operation[]): void {
  if (a === b) return;
  if (Array.isArray(a) && Array.isArray(b)) diffArray(a, b, path, ops);
  else if (isObject(a) && isObject(b)) diffObject(a, b, path, ops);
  else ops.push({ op: 'replace', path, value: b });
}

/** A member holding `undefined` is absent, as it is in JSON and in the view's canonical form. */
function diffObject(a: JsonObject, b: JsonObject, path: string, ops: Operation[]): void {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const key of keys) {
    const av = a[key];
    const bv = b[key];
    const at = `${path}/${escapePathComponent(key)}`;
    if (bv === undefined) {
      if (av !== undefined) ops.push({ op: 'remove', path: at });
    } else if (av === undefined) {
      ops.push({ op: 'add', path: at, value: bv });
    } else {
      diffValue(av, bv, at, ops);
    }
  }
}

function diffArray(a: readonly Json[], b: readonly Json[], path: string, ops: Operation[]): void {
  const aIds = identities(a);
  const bIds = aIds && identities(b);
  if (aIds && bIds) diffByIdentity(a, b, aIds, bIds, path, ops);
  else diffByPosition(a, b, path, ops);
}

/**
 * What names an item across versions of its list, or undefined when the list has no usable
 * identity (an item without one, or two items sharing one). The prefixes keep an endpoint
 * `a:1` apart from something named `a:1`.
 */
function identity(item: Json): string | undefined {
  if (!isObject(item)) return undefined;
  const { address, port, name, subset } = item;
  if (typeof address === 'string' && (typeof port === 'number' || typeof port === 'string')) {
    return `@${address}:${port}`;
  }
  if (typeof name === 'string') return `n${name}`;
  if (typeof subset === 'string') return `s${subset}`;
  return undefined;
}

function identities(list: readonly Json[]): string[] | undefined {
  const ids: string[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    const id = identity(item);
    if (id === undefined || seen.has(id)) return undefined;
    seen.add(id);
    ids.push(id);
  }
  return ids;
}

/** Item i against item i, then the tail: right for lists whose items have no identity (rules). */
function diffByPosition(a: readonly Json[], b: readonly Json[], path: string, ops: Operation[]): void {
  const common = Math.min(a.length, b.length);
  for (let i = 0; i < common; i++) diffValue(a[i], b[i], `${path}/${i}`, ops);
  for (let i = a.length - 1; i >= b.length; i--) ops.push({ op: 'remove', path: `${path}/${i}` });
  for (let i = a.length; i < b.length; i++) ops.push({ op: 'add', path: `${path}/${i}`, value: b[i] });
}

/**
 * Four passes, each leaving indices the next can rely on:
 *  1. remove what `b` lacks, from the back, so each index is still the original one;
 *  2. put the kept items in `b`'s order with one `move` each for those outside a longest run
 *     already in order (a reorder costs the items that moved, not the list; see `reorder`);
 *  3. add what `a` lacks in ascending target order: everything before the target index is then
 *     in place, so the target index is the final one;
 *  4. recurse into kept items at their final index (a field change on one item is one op).
 */
function diffByIdentity(
  a: readonly Json[],
  b: readonly Json[],
  aIds: readonly string[],
  bIds: readonly string[],
  path: string,
  ops: Operation[],
): void {
  const indexInA = new Map(aIds.map((id, i) => [id, i]));
  const inB = new Set(bIds);
  for (let i = a.length - 1; i >= 0; i--) {
    if (!inB.has(aIds[i]!)) ops.push({ op: 'remove', path: `${path}/${i}` });
  }

  reorder(
    aIds.filter((id) => inB.has(id)),
    bIds.filter((id) => indexInA.has(id)),
    path,
    ops,
  );

  bIds.forEach((id, j) => {
    if (!indexInA.has(id)) ops.push({ op: 'add', path: `${path}/${j}`, value: b[j] });
  });
  bIds.forEach((id, j) => {
    const i = indexInA.get(id);
    if (i !== undefined) diffValue(a[i], b[j], `${path}/${j}`, ops);
  });
}

/**
 * Moves that turn `current` (the kept ids in `a`'s order) into `target` (the same ids in `b`'s
 * order): one per item outside a longest run already in order, each put right after its
 * predecessor in `target`. Taking them in target order keeps every item placed so far in order.
 *
 * The indices come from a Fenwick tree over slots, not from simulating the list: every place an
 * item ever holds is known up front (where it starts; or right after the nearest in-order item
 * before it in `target`, behind the moved items already put there), so a move costs O(log n)
 * instead of O(n), and a shuffled list of 10 000 endpoints is milliseconds, not seconds.
 */
function reorder(
  current: readonly string[],
  target: readonly string[],
  path: string,
  ops: Operation[],
): void {
  const rank = new Map(target.map((id, t) => [id, t]));
  const inOrder = longestIncreasing(current.map((id) => rank.get(id)!));
  if (inOrder.size === current.length) return;
  const start = new Map(current.map((id, i) => [id, i]));
  // In target order, so anchors never decrease: the start of the last in-order item before it.
  const moved: { from: number; anchor: number }[] = [];
  let anchor = -1;
  target.forEach((id, t) => {
    if (inOrder.has(t)) anchor = start.get(id)!;
    else moved.push({ from: start.get(id)!, anchor });
  });
  // Slots in list order: the moved items anchored at -1, then start 0, those anchored at 0, start 1…
  const startSlot: number[] = [];
  const endSlot: number[] = [];
  let slots = 0;
  for (let i = -1, j = 0; i < current.length; i++) {
    if (i >= 0) startSlot[i] = slots++;
    while (j < moved.length && moved[j]!.anchor === i) endSlot[j++] = slots++;
  }
  const held = fenwick(slots);
  for (const slot of startSlot) held.add(slot, 1);
  moved.forEach(({ from: i }, j) => {
    const from = held.before(startSlot[i]!);
    held.add(startSlot[i]!, -1);
    const to = held.before(endSlot[j]!);
    held.add(endSlot[j]!, 1);
    if (from !== to) ops.push({ op: 'move', from: `${path}/${from}`, path: `${path}/${to}` });
  });
}

/** Counts per slot, with the total before a slot in O(log n). */
function fenwick(size: number) {
  const tree = new Array<number>(size + 1).fill(0);
  return {
    add(slot: number, delta: number): void {
      for (let k = slot + 1; k <= size; k += k & -k) tree[k]! += delta;
    },
    before(slot: number): number {
      let sum = 0;
      for (let k = slot; k > 0; k -= k & -k) sum += tree[k]!;
      return sum;
    },
  };
}

/** The values of one longest strictly increasing subsequence of distinct `values` (patience sorting). */
function longestIncreasing(values: readonly number[]): Set<number> {
  // tails[k]: index in `values` of the smallest last value of an increasing run of length k + 1.
  const tails: number[] = [];
  const previous: number[] = [];
  values.forEach((value, i) => {
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (values[tails[mid]!]! < value) lo = mid + 1;
      else hi = mid;
    }
    previous[i] = lo > 0 ? tails[lo - 1]! : -1;
    tails[lo] = i;
  });
  const run = new Set<number>();
  for (let i = tails.at(-1) ?? -1; i >= 0; i = previous[i]!) run.add(values[i]!);
  return run;
}

/**
 * Catch-up chosen by bytes (DESIGN.md, "Under pressure"): what an agent that is behind, or that
 * rejected a message, gets to reach the head of its region's chain. The index of key changes
 * makes a coalesced delta cost O(keys changed since the agent's version); the decision is a pure
 * function of byte sizes, so it is tested on its own.
 */
import {
  type CatchUpPlan,
  CatchUpReason,
  type CatchUpRequest,
  syncHeaderBytes,
  type ViewResource,
} from '@fedmesh/shared';
import fastJsonPatch, { type Operation } from 'fast-json-patch';
import { type EncodeOptions, encodeDelta, encodeSnapshot, type OutgoingMessage } from './encoder.js';

// fast-json-patch is CommonJS: Node's ESM loader only sees its default export.
const { escapePathComponent } = fastJsonPatch;

/**
 * Per region, the version at which each key last changed on the stream, for the keys that
 * changed since `since` (the version this hub started the region's chain at, or first met it).
 */
export interface KeyChangeIndex {
  /** Starts (or restarts) a region's index at `since`: changes before it are not known. */
  reset(region: string, since: number): void;
  /** These keys changed in the view published (or adopted) as `version`. */
  record(region: string, keys: Iterable<string>, version: number): void;
  /** Keys changed after version `have`, or undefined when the index does not reach back to it. */
  changedSince(region: string, have: number): string[] | undefined;
}

export function createKeyChangeIndex(): KeyChangeIndex {
  const regions = new Map<string, { since: number; at: Map<string, number> }>();
  return {
    reset(region, since) {
      regions.set(region, { since, at: new Map() });
    },
    record(region, keys, version) {
      const r = regions.get(region);
      if (!r) return;
      for (const k of keys) r.at.set(k, version);
    },
    changedSince(region, have) {
      const r = regions.get(region);
      if (!r || have < r.since) return undefined;
      const out: string[] = [];
      for (const [k, v] of r.at) if (v > have) out.push(k);
      return out.sort();
    },
  };
}

/**
 * The ops of one delta from any view of the region's chain at a version the index reaches back
 * to, to `resources` (the head). A key present at the head is added (RFC 6902 `add` on an object
 * member replaces it when it exists); a key gone from the head may or may not have existed at
 * the agent's version, so it is added as null first and then removed, which holds either way.
 */
export function coalescedOps(keys: readonly string[], resources: Record<string, ViewResource>): Operation[] {
  const ops: Operation[] = [];
  for (const k of keys) {
    const path = `/${escapePathComponent(k)}`;
    const value = resources[k];
    if (value !== undefined) ops.push({ op: 'add', path, value });
    else ops.push({ op: 'add', path, value: null }, { op: 'remove', path });
  }
  return ops;
}

/** One delta from version `have` of the region's chain to the head, for the keys changed since. */
export function coalescedDelta(
  region: string,
  have: number,
  version: number,
  hash: string,
  keys: readonly string[],
  resources: Record<string, ViewResource>,
  opts: EncodeOptions,
): Promise<OutgoingMessage[]> {
  return encodeDelta(region, have, version, hash, coalescedOps(keys, resources), opts);
}

/** What messages cost as the publisher counts them (body and NATS headers), published after `seq`. */
export function lineBytesOf(msgs: readonly OutgoingMessage[], seq: number): number {
  let bytes = 0;
  for (const [i, m] of msgs.entries()) bytes += m.data.byteLength + syncHeaderBytes(seq + i);
  return bytes;
}

export interface CatchUpInput {
  reason: CatchUpReason;
  /** The agent holds the head (version and hash). */
  atHead: boolean;
  /** Bytes on the line of each way there; undefined when it is not an option or not known. */
  replayBytes: number | undefined;
  deltaBytes: number | undefined;
  snapshotBytes: number;
  /** Messages queued for the agent, and how many of them the old rule replayed at most. */
  pending: number | undefined;
  maxReplayMessages: number;
}

/**
 * The cheapest correct way to the head. Replaying is an option only for an agent that is merely
 * behind (one that rejected a message would meet the same chain again), and costs nothing to
 * publish, so it wins ties; a coalesced delta wins a tie with a snapshot. When the replay's size
 * is unknown (the hub restarted since those messages), the old message-count rule decides
 * between replaying and the cheaper of the other two.
 */
export function decideCatchUp(input: CatchUpInput): CatchUpPlan {
  if (input.atHead) return 'current';
  if (input.reason === CatchUpReason.Start) return 'snapshot';
  const published: CatchUpPlan =
    input.deltaBytes !== undefined && input.deltaBytes <= input.snapshotBytes ? 'delta' : 'snapshot';
  const publishedBytes = published === 'delta' ? input.deltaBytes! : input.snapshotBytes;
  if (input.reason !== CatchUpReason.Behind) return published;
  if (input.replayBytes !== undefined) return input.replayBytes <= publishedBytes ? 'replay' : published;
  return (input.pending ?? 0) <= input.maxReplayMessages ? 'replay' : published;
}

/** What the hub knows of a region's chain when an agent asks how to catch up. */
export interface CatchUpContext {
  region: string;
  request: CatchUpRequest & { reason: CatchUpReason };
  /** The view this hub holds for the region now. */
  version: number;
  hash: string;
  /** The stream's head is exactly that view (nothing pending, no other replica ahead). */
  settled: boolean;
  headSeq: number;
  resources: () => Record<string, ViewResource>;
  /** Keys changed after a version, when the index reaches back to it. */
  changedSince: (have: number) => string[] | undefined;
  encoding: EncodeOptions;
  /** Size of the last snapshot published for the region, when there was one. */
  snapshotBytes: number | undefined;
  replayBytes: (after: number) => number | undefined;
  maxReplayMessages: number;
}

export interface CatchUpChoice {
  plan: CatchUpPlan;
  /** The coalesced delta to publish, when that is the plan. */
  delta?: OutgoingMessage[];
  bytes?: { replay?: number | undefined; delta?: number; snapshot: number };
  /** A snapshot was encoded to know its size: what it came to. */
  snapshotBytes?: number;
}

/**
 * Chooses the plan, encoding only what the choice needs to know: no coalesced delta when the
 * index does not reach back to the agent's version, and no snapshot sizing when a snapshot is
 * the only way (an agent without a view, or one that cannot replay and has no delta).
 */
export async function planCatchUp(ctx: CatchUpContext): Promise<CatchUpChoice> {
  const { request: req } = ctx;
  if (ctx.settled && req.have === ctx.version && req.hash === ctx.hash) return { plan: 'current' };
  if (req.have > ctx.version && req.reason === CatchUpReason.Behind) return { plan: 'replay' };
  if (req.reason === CatchUpReason.Start) return { plan: 'snapshot' };
  const keys = ctx.settled && req.have > 0 ? ctx.changedSince(req.have) : undefined;
  const delta = keys
    ? await coalescedDelta(ctx.region, req.have, ctx.version, ctx.hash, keys, ctx.resources(), ctx.encoding)
    : undefined;
  const canReplay = req.reason === CatchUpReason.Behind;
  if (!delta && !canReplay) return { plan: 'snapshot' };
  const encoded =
    ctx.snapshotBytes === undefined
      ? lineBytesOf(
          await encodeSnapshot(ctx.region, ctx.version, ctx.hash, ctx.resources(), ctx.encoding),
          ctx.headSeq,
        )
      : undefined;
  const bytes = {
    ...(canReplay && req.after !== undefined ? { replay: ctx.replayBytes(req.after) } : {}),
    ...(delta ? { delta: lineBytesOf(delta, ctx.headSeq) } : {}),
    snapshot: ctx.snapshotBytes ?? encoded!,
  };
  const plan = decideCatchUp({
    reason: req.reason,
    atHead: false,
    replayBytes: bytes.replay,
    deltaBytes: bytes.delta,
    snapshotBytes: bytes.snapshot,
    pending: req.pending,
    maxReplayMessages: ctx.maxReplayMessages,
  });
  return {
    plan,
    ...(plan === 'delta' ? { delta: delta! } : {}),
    bytes,
    ...(encoded === undefined ? {} : { snapshotBytes: encoded }),
  };
}

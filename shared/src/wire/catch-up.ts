/**
 * The catch-up exchange on `fedmesh.resync.<region>` (docs/protocol.md, "Catch-up"): an agent
 * that is behind, starts without a view, or rejected a message says what it holds and where it
 * stands; the hub answers with the cheapest way to the head of the region's chain, by bytes.
 * Both sides parse with these, so a hub and agents of different builds agree on the shapes.
 */

/** Why the agent asks. Requests of agents older than this exchange carry none. */
export const CatchUpReason = {
  /** No view yet. */
  Start: 'start',
  /** A backlog queued on the stream: maybe something cheaper than replaying it. */
  Behind: 'behind',
  /** A message was rejected (undecodable, failed verification, a broken chain). */
  Rejected: 'rejected',
} as const;
export type CatchUpReason = (typeof CatchUpReason)[keyof typeof CatchUpReason];

export interface CatchUpRequest {
  /** Version and hash of the view the agent holds (0 and absent without one). */
  have: number;
  hash?: string;
  /** Stream sequence of the last message the agent consumed or rejected. */
  after?: number;
  /** Messages queued for it on the stream, as its consumer reports them. */
  pending?: number;
  reason?: CatchUpReason;
  /** Codecs it accepts, so whatever is published for it is encoded for it. */
  codecs?: string[];
}

/**
 * - `current`: the agent already holds the head; it goes on right after `after` (past a bad message);
 * - `replay`: the queue is the cheapest way; the agent keeps consuming it;
 * - `delta`: one coalesced delta from the agent's version to the head, published at `seq`;
 * - `snapshot`: a snapshot of the head starts at `seq`.
 * A reply without `plan` (a hub older than this exchange) is a snapshot at `seq`.
 */
export type CatchUpPlan = 'current' | 'replay' | 'delta' | 'snapshot';

export interface CatchUpReply {
  plan?: CatchUpPlan;
  seq?: number;
  version?: number;
  hash?: string;
  /** What the hub weighed, in bytes on the line (absent when it could not know). */
  bytes?: { replay?: number; delta?: number; snapshot?: number };
  /** The Region's line budget, for an agent that holds no Region of its own yet. */
  link?: { bytesPerSecond: number; burstBytes?: number };
  error?: string;
}

const REASONS = new Set<string>(Object.values(CatchUpReason));
const PLANS = new Set<string>(['current', 'replay', 'delta', 'snapshot']);

const count = (x: unknown): number | undefined =>
  typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : undefined;

/**
 * Reads a request, keeping only well-formed fields: anything else is as if absent, so a
 * malformed or old request gets the old answer (a snapshot), never an error.
 */
export function parseCatchUpRequest(data: Uint8Array): CatchUpRequest {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return { have: 0 };
  } catch {
    return { have: 0 };
  }
  const out: CatchUpRequest = { have: count(body.have) ?? 0 };
  if (typeof body.hash === 'string' && /^[0-9a-f]{64}$/.test(body.hash)) out.hash = body.hash;
  const after = count(body.after);
  if (after !== undefined) out.after = after;
  const pending = count(body.pending);
  if (pending !== undefined) out.pending = pending;
  if (typeof body.reason === 'string' && REASONS.has(body.reason)) out.reason = body.reason as CatchUpReason;
  const c = body.codecs;
  if (
    Array.isArray(c) &&
    c.length > 0 &&
    c.length <= 8 &&
    c.every((x) => typeof x === 'string' && x.length <= 32)
  ) {
    out.codecs = c as string[];
  }
  return out;
}

/** Reads a reply; one without a plan (an older hub) is a snapshot when it has a sequence. */
export function parseCatchUpReply(data: Uint8Array): CatchUpReply & { plan: CatchUpPlan | undefined } {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown>;
  } catch {
    return { plan: undefined, error: 'the reply is not JSON' };
  }
  if (typeof body !== 'object' || body === null)
    return { plan: undefined, error: 'the reply is not an object' };
  const seq = count(body.seq);
  const plan =
    typeof body.plan === 'string' && PLANS.has(body.plan)
      ? (body.plan as CatchUpPlan)
      : seq
        ? 'snapshot'
        : undefined;
  return {
    ...(body as CatchUpReply),
    plan,
    ...(seq === undefined ? {} : { seq }),
  };
}

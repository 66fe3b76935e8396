/**
 * What the sync downlink costs on the line, and which budget applies to it.
 *
 * The NATS client counts message bodies (headers and payload) only. The line also carries each
 * message's protocol line (`HMSG <subject> <sid> <reply> <sizes>`, with a JetStream ack subject
 * as the reply) and the IP and TCP headers of every segment; both are estimated here, so that
 * the budget an operator sets is a budget for what the link really carries.
 */
import { type RegionLink, type RegionView, regionLinkOf, viewKey } from '@fedmesh/shared';
import type { LineBudget } from './pacer.js';

/** Protocol line and trailing CRLF of a delivered JetStream message (a ~75-byte ack subject as reply). */
export const PROTOCOL_BYTES_PER_MESSAGE = 112;
/** IPv4 and TCP headers with timestamps (52 bytes) per full 1448-byte segment. */
export const TRANSPORT_OVERHEAD = 52 / 1448;
/**
 * The hub's default chunk (64 KiB) with its headers, subject and ack subject, as the server
 * counts it against a pull: the largest sync message an agent expects until it sees one.
 */
export const DEFAULT_LARGEST_MESSAGE = 64 * 1024 + 1024;

export function lineBytes(
  bodyBytes: number,
  messages: number,
  protocolBytesPerMessage = PROTOCOL_BYTES_PER_MESSAGE,
): number {
  return Math.ceil((bodyBytes + messages * protocolBytesPerMessage) * (1 + TRANSPORT_OVERHEAD));
}

/**
 * A pull's `max_bytes` counts subject, reply subject, headers and payload; the bucket counts
 * line bytes. The slack covers the protocol line the server does not count.
 */
const PULL_SLACK = 64;
/**
 * Room kept for a message like one already seen: its ack subject and headers grow a few bytes
 * as sequence numbers gain digits, and a pull one byte short brings nothing but a 409.
 */
const ROOM_MARGIN = 128;
/** The `max_bytes` a pull may ask for with `tokens` in the bucket. */
export function pullBytesFor(tokens: number): number {
  return Math.floor(tokens / (1 + TRANSPORT_OVERHEAD)) - PULL_SLACK;
}
/** The tokens a pull needs to let in a message the server counts as (about) `serverBytes`. */
export function tokensToPull(serverBytes: number): number {
  return Math.ceil((serverBytes + PULL_SLACK + ROOM_MARGIN) * (1 + TRANSPORT_OVERHEAD));
}

export interface ConnectionStats {
  inBytes: number;
  inMsgs: number;
}

/** Line bytes received since the previous poll, from the connection's counters. */
export function createLineCounter(stats: () => ConnectionStats): { poll(): number } {
  let last = stats();
  return {
    poll() {
      const now = stats();
      const bytes = Math.max(0, now.inBytes - last.inBytes);
      const messages = Math.max(0, now.inMsgs - last.inMsgs);
      last = now;
      return bytes === 0 && messages === 0 ? 0 : lineBytes(bytes, messages);
    },
  };
}

/** Where an enforced budget came from. */
export const BudgetSource = {
  /** The Region's `link.budget`, from the agent's verified view. */
  Region: 'region',
  /** What the hub said the Region allows, before the agent holds a view of its own. */
  Hub: 'hub',
  /** The agent's `--budget` flag, lower than the Region's (or the only one there is). */
  Flag: 'flag',
} as const;
export type BudgetSource = (typeof BudgetSource)[keyof typeof BudgetSource];

export interface EffectiveBudget extends LineBudget {
  source: BudgetSource;
}

export type { RegionLink } from '@fedmesh/shared';

/** The Region's link from the view the agent holds (its own Region is always in it). */
export function regionLink(view: RegionView): RegionLink | undefined {
  return regionLinkOf(view.resources[viewKey('Region', '_', view.region)]);
}

/**
 * The budget the agent enforces. The Region sets it; the flag may lower it, never raise it. The
 * burst defaults to one second of budget or one default-sized chunk, whichever is more, and is
 * never less than the largest sync message seen: a bucket smaller than a message could never
 * let that message in.
 */
export function effectiveBudget(input: {
  link: RegionLink | undefined;
  linkSource?: typeof BudgetSource.Region | typeof BudgetSource.Hub;
  flagBytesPerSecond: number | undefined;
  largestMessage: number;
}): EffectiveBudget | undefined {
  const { link, flagBytesPerSecond: flag } = input;
  if (!link && flag === undefined) return undefined;
  const fromFlag = flag !== undefined && (!link || flag < link.bytesPerSecond);
  const bytesPerSecond = fromFlag ? flag : link!.bytesPerSecond;
  const burst = link?.burstBytes ?? Math.max(bytesPerSecond, tokensToPull(DEFAULT_LARGEST_MESSAGE));
  return {
    bytesPerSecond,
    burstBytes: Math.max(burst, input.largestMessage),
    source: fromFlag ? BudgetSource.Flag : (input.linkSource ?? BudgetSource.Region),
  };
}

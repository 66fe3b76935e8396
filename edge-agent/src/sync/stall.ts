/**
 * The stall watch: the hub said where the chain stands (an urgent message, or a nudge: an urgent
 * message with no entries, docs/protocol.md "The urgent lane"), and the open pull has brought
 * nothing since. Heartbeats cannot tell this apart from a quiet line: the chaos suite saw a
 * consumer keep sending them while delivering none of the messages its stream had gained, for
 * 80 s. So once the chain is announced ahead of the agent and `stallMs` pass with a pull open,
 * nothing delivered and no bytes arriving (a large chunk on its way is progress), the pull is
 * ended and delivery starts again at the agent's own position.
 *
 * A pull that is not open (the agent waits for its budget) is no stall, and neither is a line
 * that delivers: the urgent lane overtakes a saturated chain by design.
 */
import type { Clock } from './pacer.js';

/** Bytes that, arriving on the line since the announcement, are progress: more than heartbeats. */
const STALL_BYTES = 2048;

export interface StallCheck {
  /** The version the agent holds, verified. */
  held: number;
  /** A pull is open: the agent is waiting for messages, not for its budget. */
  pullOpen: boolean;
  /** Bytes received on the connection so far (a counter). */
  lineBytes: number;
}

export interface StallWatch {
  /** The hub announced the chain at `version`. */
  announced(version: number, lineBytes: number): void;
  /** A chain message arrived. */
  delivered(lineBytes: number): void;
  /** True once when the open pull should be ended. */
  check(now: StallCheck): boolean;
}

export function createStallWatch(clock: Clock, stallMs: number): StallWatch {
  let pending: { version: number; since: number; bytes: number } | undefined;
  const restart = (lineBytes: number) => {
    if (pending) {
      pending.since = clock.now();
      pending.bytes = lineBytes;
    }
  };
  return {
    announced(version, lineBytes) {
      if (pending) pending.version = Math.max(pending.version, version);
      else pending = { version, since: clock.now(), bytes: lineBytes };
    },
    delivered: restart,
    check({ held, pullOpen, lineBytes }) {
      if (!pending) return false;
      if (held >= pending.version) {
        pending = undefined;
        return false;
      }
      if (!pullOpen || lineBytes - pending.bytes > STALL_BYTES) {
        restart(lineBytes);
        return false;
      }
      if (clock.now() - pending.since < stallMs) return false;
      pending = undefined;
      return true;
    },
  };
}

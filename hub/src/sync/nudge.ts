/**
 * Nudges (docs/protocol.md, "The urgent lane"): an agent whose reports say it is behind its
 * region's chain and did not move since its last report is sent an urgent message with no
 * entries, announcing the chain's version. The agent ends a pull that has brought nothing since
 * and pulls again from its own position.
 *
 * Why: a pull can stand still without anything failing. The chaos suite saw a consumer on a
 * 3-node cluster keep sending idle heartbeats while delivering none of the messages its stream
 * had gained (after a member's restart), for 80 s, until it lost its leader. Heartbeats prove the
 * server is there, not that the chain reaches the agent; the hub knows both ends. It costs
 * nothing while agents keep up: only a region that stands still behind gets a message, at most
 * one per two of its heartbeats.
 */
import { Codec, encodeUrgent, type Logger, type SigningKey } from '@fedmesh/shared';
import type { StreamHead } from './publisher.js';

export interface NudgeReport {
  region: string;
  /** Stream sequence of the last message the agent consumed. */
  streamSeq?: number | undefined;
  heartbeatSeconds: number;
}

export interface NudgeDeps {
  /** What the region's subject ends with, as this hub last published or read it. */
  head: (region: string) => StreamHead | undefined;
  publish: (region: string, body: Uint8Array) => void;
  key?: SigningKey;
  log: Logger;
  now?: () => number;
}

export interface Nudger {
  /** Every status report goes through here. */
  report(r: NudgeReport): Promise<void>;
}

export function createNudger(deps: NudgeDeps): Nudger {
  const now = deps.now ?? (() => Date.now());
  const last = new Map<string, { seq: number; at: number; nudgedAt: number }>();
  return {
    async report(r) {
      if (r.streamSeq === undefined) return;
      const t = now();
      const prior = last.get(r.region);
      const nudgedAt = prior?.nudgedAt ?? 0;
      last.set(r.region, { seq: r.streamSeq, at: t, nudgedAt });
      const head = deps.head(r.region);
      if (!head || head.version < 0 || r.streamSeq >= head.seq) return;
      // Behind, and not one message further than a heartbeat ago.
      if (prior?.seq !== r.streamSeq) return;
      if (t - nudgedAt < 2 * r.heartbeatSeconds * 1000) return;
      last.set(r.region, { seq: r.streamSeq, at: t, nudgedAt: t });
      const body = await encodeUrgent(
        r.region,
        { fromVersion: head.version, toVersion: head.version, entries: {} },
        Codec.Identity,
        deps.key,
      );
      deps.publish(r.region, body);
      deps.log.info(
        { region: r.region, agentSeq: r.streamSeq, headSeq: head.seq, version: head.version },
        'agent behind and not moving: nudged',
      );
    },
  };
}

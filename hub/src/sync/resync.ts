import {
  type CatchUpReply,
  type Logger,
  parseCatchUpRequest,
  RESYNC_SUBJECT_PREFIX,
  regionLinkOf,
} from '@fedmesh/shared';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { SyncEngine } from './types.js';

/**
 * Answers agents' catch-up requests on `fedmesh.resync.<region>` (docs/protocol.md, "Catch-up").
 * Hub replicas share a queue group, so one replica answers each request. A request without a
 * reason (an agent older than the catch-up exchange) gets what it always got: a snapshot.
 */
export function serveResyncRequests(nc: NatsConnection, engine: SyncEngine, logger: Logger): Subscription {
  const log = logger.child({ component: 'resync' });
  return nc.subscribe(`${RESYNC_SUBJECT_PREFIX}.*`, {
    queue: 'fedmesh-hub',
    callback: (err, msg) => {
      if (err) return;
      const region = msg.subject.slice(RESYNC_SUBJECT_PREFIX.length + 1);
      const req = parseCatchUpRequest(msg.data);
      // The first status report may still be on its way: without this a new agent's first
      // snapshot would be encoded for the default codec rather than for what it accepts.
      if (req.codecs) engine.setAcceptedCodecs(region, req.codecs);
      const { reason } = req;
      const answer: Promise<CatchUpReply> = reason
        ? engine.catchUp(region, { ...req, reason })
        : engine.publishSnapshot(region).then((r) => ({ plan: 'snapshot' as const, ...r }));
      answer
        .then((r) => {
          log.info({ region, plan: r.plan, seq: r.seq, version: r.version, reason }, 'catch-up answered');
          const link = regionLink(engine, region);
          msg.respond(JSON.stringify({ ...r, ...(link ? { link } : {}) } satisfies CatchUpReply));
        })
        .catch((e: Error) => {
          log.warn({ region, err: e.message }, 'cannot serve resync request');
          msg.respond(JSON.stringify({ error: e.message } satisfies CatchUpReply));
        });
    },
  });
}

function regionLink(engine: SyncEngine, region: string): CatchUpReply['link'] {
  return regionLinkOf(engine.resource({ kind: 'Region', namespace: '_', name: region }));
}

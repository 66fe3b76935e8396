import { type Logger, RESYNC_SUBJECT_PREFIX } from '@fedmesh/shared';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { SyncEngine } from './engine.js';

/** Reply to a resync request: where in the stream the fresh snapshot starts. */
export interface ResyncReply {
  seq?: number;
  version?: number;
  hash?: string;
  error?: string;
}

/**
 * Answers agents' snapshot requests on `fedmesh.resync.<region>`. Hub replicas share a queue
 * group, so one replica answers each request.
 */
export function serveResyncRequests(nc: NatsConnection, engine: SyncEngine, logger: Logger): Subscription {
  const log = logger.child({ component: 'resync' });
  return nc.subscribe(`${RESYNC_SUBJECT_PREFIX}.*`, {
    queue: 'fedmesh-hub',
    callback: (err, msg) => {
      if (err) return;
      const region = msg.subject.slice(RESYNC_SUBJECT_PREFIX.length + 1);
      engine
        .publishSnapshot(region)
        .then((r) => {
          log.info({ region, seq: r.seq, version: r.version }, 'snapshot published on request');
          msg.respond(JSON.stringify({ seq: r.seq, version: r.version, hash: r.hash } satisfies ResyncReply));
        })
        .catch((e: Error) => {
          log.warn({ region, err: e.message }, 'cannot serve resync request');
          msg.respond(JSON.stringify({ error: e.message } satisfies ResyncReply));
        });
    },
  });
}

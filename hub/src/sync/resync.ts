import { type Logger, parseByteRate, parseByteSize, RESYNC_SUBJECT_PREFIX } from '@fedmesh/shared';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { SyncEngine } from './types.js';

/** Reply to a resync request: where in the stream the fresh snapshot starts. */
export interface ResyncReply {
  seq?: number;
  version?: number;
  hash?: string;
  /**
   * The region's line budget: an agent that holds no view yet (so no Region of its own) paces
   * the snapshot it is about to pull by it.
   */
  link?: { bytesPerSecond: number; burstBytes?: number };
  error?: string;
}

/** What an agent may say when it asks: the codecs it accepts, so the snapshot is encoded for it. */
interface ResyncRequest {
  codecs?: unknown;
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
      const codecs = requestedCodecs(msg.data);
      // The first status report may still be on its way: without this a new agent's first
      // snapshot would be encoded for the default codec rather than for what it accepts.
      if (codecs) engine.setAcceptedCodecs(region, codecs);
      engine
        .publishSnapshot(region)
        .then((r) => {
          log.info({ region, seq: r.seq, version: r.version }, 'snapshot published on request');
          const link = regionLink(engine, region);
          msg.respond(
            JSON.stringify({
              seq: r.seq,
              version: r.version,
              hash: r.hash,
              ...(link ? { link } : {}),
            } satisfies ResyncReply),
          );
        })
        .catch((e: Error) => {
          log.warn({ region, err: e.message }, 'cannot serve resync request');
          msg.respond(JSON.stringify({ error: e.message } satisfies ResyncReply));
        });
    },
  });
}

function requestedCodecs(data: Uint8Array): string[] | undefined {
  try {
    const body = JSON.parse(new TextDecoder().decode(data)) as ResyncRequest;
    const c = body?.codecs;
    if (
      Array.isArray(c) &&
      c.length > 0 &&
      c.length <= 8 &&
      c.every((x) => typeof x === 'string' && x.length <= 32)
    )
      return c as string[];
  } catch {
    // An old agent's request, or none at all: keep what the status reports said.
  }
  return undefined;
}

function regionLink(engine: SyncEngine, region: string): ResyncReply['link'] {
  const res = engine.resource({ kind: 'Region', namespace: '_', name: region });
  const link = res?.kind === 'Region' ? res.spec.link : undefined;
  if (!link) return undefined;
  return {
    bytesPerSecond: parseByteRate(link.budget),
    ...(link.burst === undefined ? {} : { burstBytes: parseByteSize(link.burst) }),
  };
}

import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from './logger.js';

/**
 * Connects the way every fedmesh process should: retry forever (static stability: a process
 * that outlives NATS must come back by itself), named, with optional credentials.
 */
export async function connectNats(opts: {
  servers: string;
  name: string;
  credsFile?: string | undefined;
  logger: Logger;
  /** Keep trying the first connection instead of failing when NATS is down at start. */
  waitOnFirstConnect?: boolean;
}): Promise<NatsConnection> {
  const log = opts.logger.child({ component: 'nats' });
  const nc = await connect({
    servers: opts.servers.split(',').map((s) => s.trim()),
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    ...(opts.credsFile ? { authenticator: credsAuthenticator(readFileSync(opts.credsFile)) } : {}),
  });
  log.info({ server: nc.getServer() }, 'connected to NATS');
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log.warn({ server: s.server }, 'NATS disconnected');
      else if (s.type === 'reconnect') log.info({ server: s.server }, 'NATS reconnected');
      else if (s.type === 'error') log.warn({ err: String(s.error) }, 'NATS error');
    }
  })().catch(() => undefined);
  return nc;
}

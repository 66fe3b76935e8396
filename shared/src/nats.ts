import { readFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection, nkeyAuthenticator } from '@nats-io/transport-node';
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
  /**
   * Where replies to this connection go (`<prefix>.<id>`): an agent uses one of its region's
   * own, so NATS permissions can let it see its replies and nobody else's.
   */
  inboxPrefix?: string;
}): Promise<NatsConnection> {
  const log = opts.logger.child({ component: 'nats' });
  const { servers, user, pass } = splitCredentials(opts.servers);
  const nc = await connect({
    servers,
    ...(user !== undefined ? { user, pass: pass ?? '' } : {}),
    name: opts.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: opts.waitOnFirstConnect ?? false,
    // nats.js captures a stack trace for every request and every timeout it arms, in case it
    // fails: 7 % of the hub's CPU under a stream of REST writes (a JetStream get, publish and
    // audit append each). Our errors name the operation that failed, so the trace adds nothing.
    noAsyncTraces: true,
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
    ...(opts.credsFile ? { authenticator: authenticatorFromFile(opts.credsFile) } : {}),
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

/**
 * `nats://user:password@host:4222` works as users expect: nats.js ignores credentials in a URL,
 * so they are taken out and passed as options (and kept out of logs).
 */
export function splitCredentials(list: string): { servers: string[]; user?: string; pass?: string } {
  let user: string | undefined;
  let pass: string | undefined;
  const servers = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const m = /^([a-z]+:\/\/)([^@/]+)@(.+)$/i.exec(s);
      if (!m) return s;
      const [name, password] = m[2]!.split(':');
      user = decodeURIComponent(name ?? '');
      if (password !== undefined) pass = decodeURIComponent(password);
      return `${m[1]}${m[3]}`;
    });
  return { servers, ...(user !== undefined ? { user } : {}), ...(pass !== undefined ? { pass } : {}) };
}

/**
 * `--nats-creds <file>`: a `.creds` file (a user JWT and its seed, for servers in operator mode)
 * or a bare nkey user seed (`SU…`, for `nkey:` users in a server's own config): either way no
 * password travels in a URL.
 */
export function authenticatorFromFile(file: string): ReturnType<typeof credsAuthenticator> {
  const text = readFileSync(file, 'utf8');
  if (text.includes('-----BEGIN NATS USER JWT-----'))
    return credsAuthenticator(new TextEncoder().encode(text));
  const seed = text.trim();
  if (/^SU[A-Z2-7]{56}$/.test(seed)) return nkeyAuthenticator(new TextEncoder().encode(seed));
  throw new Error(`${file} is neither a NATS .creds file nor an nkey user seed (SU…)`);
}

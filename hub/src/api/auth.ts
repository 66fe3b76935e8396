import { createHash, timingSafeEqual } from 'node:crypto';
import { ErrorCode, FedmeshError } from '@fedmesh/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export const Role = { Admin: 'admin', ReadOnly: 'read-only' } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** Who holds a token: the name is what the audit log records as the actor. */
export interface Principal {
  name: string;
  role: Role;
  /** Set for a region's agent writing what it discovered (its endpoints reports): that region. */
  agentOf?: string;
}

export interface AuthConfig {
  /**
   * SHA-256 of each token (`tokenDigest`, lowercase hex) → principal; empty means
   * authentication is off (a warning is logged at start). The hub never keeps a token itself.
   */
  tokens: ReadonlyMap<string, Principal>;
}

/** What the hub keeps of a token, and what a tokens file may hold instead of it (`sha256:`). */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** The actor of requests made while authentication is off. */
export const ANONYMOUS: Principal = Object.freeze({ name: 'anonymous', role: Role.Admin });

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Bearer-token auth on every /v1 route; read-only tokens may only read. */
export function registerAuth(app: FastifyInstance, auth: AuthConfig): void {
  app.decorateRequest('principal', null as unknown as Principal);
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (auth.tokens.size === 0) {
      req.principal = ANONYMOUS;
      return;
    }
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!m)
      throw new FedmeshError(ErrorCode.Unauthorized, 'missing bearer token (Authorization: Bearer <token>)');
    const principal = lookup(auth.tokens, m[1]!);
    if (!principal) throw new FedmeshError(ErrorCode.Unauthorized, 'invalid token');
    if (principal.role === Role.ReadOnly && !READ_METHODS.has(req.method) && !isReadOnlyPost(req)) {
      throw new FedmeshError(ErrorCode.Forbidden, `token "${principal.name}" is read-only`);
    }
    req.principal = principal;
  });
}

/** A dry-run apply and a region preview change nothing, so read-only tokens may call them. */
function isReadOnlyPost(req: FastifyRequest): boolean {
  if (req.method === 'POST' && req.routeOptions.url === '/v1/regions/:region/preview') return true;
  if (req.method !== 'POST' || req.routeOptions.url !== '/v1/apply') return false;
  const q = req.url.indexOf('?');
  const values = q >= 0 ? new URLSearchParams(req.url.slice(q + 1)).getAll('dryRun') : [];
  return values.length === 1 && values[0] === 'true';
}

/**
 * Constant-time over every configured token: the presented token is hashed first, so every
 * comparison is of 32 bytes with 32 bytes whatever its length, and every entry is compared, so
 * response time leaks neither a prefix nor which entry matched.
 */
function lookup(tokens: ReadonlyMap<string, Principal>, presented: string): Principal | undefined {
  let found: Principal | undefined;
  const p = createHash('sha256').update(presented).digest();
  for (const [digest, principal] of tokens) {
    if (timingSafeEqual(Buffer.from(digest, 'hex'), p)) found = principal;
  }
  return found;
}

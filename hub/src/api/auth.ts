import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ErrorCode, FedmeshError } from '@fedmesh/shared';

export const Role = { Admin: 'admin', ReadOnly: 'read-only' } as const;
export type Role = (typeof Role)[keyof typeof Role];

export interface AuthConfig {
  /** token → role; empty means authentication is off (a warning is logged at start). */
  tokens: ReadonlyMap<string, Role>;
}

declare module 'fastify' {
  interface FastifyRequest {
    actor: string;
  }
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Bearer-token auth on every /v1 route; read-only tokens may only read. */
export function registerAuth(app: FastifyInstance, auth: AuthConfig): void {
  app.decorateRequest('actor', 'anonymous');
  app.addHook('onRequest', async (req: FastifyRequest) => {
    if (auth.tokens.size === 0) return;
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!m) throw new FedmeshError(ErrorCode.Unauthorized, 'missing bearer token (Authorization: Bearer <token>)');
    const role = lookup(auth.tokens, m[1]!);
    if (!role) throw new FedmeshError(ErrorCode.Unauthorized, 'invalid token');
    if (role === Role.ReadOnly && !READ_METHODS.has(req.method) && !isReadOnlyPost(req.url)) {
      throw new FedmeshError(ErrorCode.Forbidden, 'this token is read-only');
    }
    req.actor = role === Role.Admin ? 'admin' : 'reader';
  });
}

/** Dry runs and previews change nothing, so read-only tokens may call them. */
function isReadOnlyPost(url: string): boolean {
  return /[?&]dryRun=true(&|$)/.test(url) || /\/preview(\?|$)/.test(url);
}

/** Constant-time over every configured token, so response time does not leak a prefix match. */
function lookup(tokens: ReadonlyMap<string, Role>, presented: string): Role | undefined {
  let found: Role | undefined;
  const p = Buffer.from(presented);
  for (const [token, role] of tokens) {
    const t = Buffer.from(token);
    if (t.length === p.length && timingSafeEqual(t, p)) found = role;
  }
  return found;
}

import type { FieldIssue } from '@fedmesh/shared';
import { type ServerTarget, serverHint } from './target.js';

/** An HTTP error from the hub, with what it said. */
export class ApiError extends Error {
  /** What the user can do about it, when we know (a token to give, a namespace to name). */
  hint?: string;
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: readonly FieldIssue[] = [],
    readonly body: unknown = undefined,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The hub could not be reached at all (refused, DNS, TLS, timeout). */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(
    message: string,
    /** What to do about it: which address was tried, and how to give another. */
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  server: string;
  /** Where `server` came from (flag, environment, default), for the hint of a connect error. */
  source?: ServerTarget['source'];
  token?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Ends requests in flight (Ctrl-C during `get --watch`). */
  signal?: AbortSignal;
}

export interface HubClient {
  readonly server: string;
  request<T>(
    method: string,
    path: string,
    opts?: { body?: unknown; okStatuses?: number[] },
  ): Promise<{ status: number; body: T; headers: Headers }>;
}

/** A thin JSON client: errors carry the server's code, message and field issues. */
export function createClient(opts: ClientOptions): HubClient {
  const base = opts.server.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return {
    server: base,
    async request<T>(method: string, path: string, o: { body?: unknown; okStatuses?: number[] } = {}) {
      let res: Response;
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        res = await doFetch(base + path, {
          method,
          headers: {
            accept: 'application/json',
            ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
          ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
          signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
        });
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        const why = timeout.aborted ? `no answer within ${timeoutMs / 1000}s` : connectReason(err);
        throw new ConnectError(
          `cannot reach the hub at ${base}: ${why}`,
          opts.source ? serverHint({ url: base, source: opts.source }) : undefined,
        );
      }
      const text = await res.text();
      let body: unknown;
      let json = true;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
        json = false;
      }
      // A web server, a proxy's error page, another service on that port: say so, not "Unexpected token <".
      if (!json && (res.ok || !(res.headers.get('content-type') ?? '').includes('json'))) {
        const type = res.headers.get('content-type')?.split(';')[0] ?? 'no content type';
        throw new ConnectError(
          `the server at ${base} answered ${method} ${path} with HTTP ${res.status} and ${type}, not the fedmesh API's JSON`,
          "is that the hub's admin API address (fedmesh-hub --listen)?",
        );
      }
      if (res.ok || o.okStatuses?.includes(res.status))
        return { status: res.status, body: body as T, headers: res.headers };
      const err = (body as { error?: { code?: string; message?: string; issues?: FieldIssue[] } } | undefined)
        ?.error;
      const error = new ApiError(
        res.status,
        err?.code ?? `http_${res.status}`,
        err?.message ?? (typeof body === 'string' && body ? body.slice(0, 500) : res.statusText),
        err?.issues ?? [],
        body,
      );
      if (res.status === 401) {
        error.hint = opts.token
          ? 'the hub does not know this token (--token or FEDMESH_TOKEN): use its FEDMESH_ADMIN_TOKEN or one from its --tokens-file'
          : 'the hub wants a token: give it with --token TOKEN or `export FEDMESH_TOKEN=…`';
      } else if (res.status === 403 && error.code === 'forbidden') {
        error.hint = 'this token may only read; writes need an admin token';
      }
      throw error;
    },
  };
}

/** Node's error codes, in words: what went wrong, not which syscall failed. */
const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (nothing is listening there)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved (DNS did not answer)',
  ECONNRESET: 'the connection was reset',
  EHOSTUNREACH: 'the host cannot be reached',
  ENETUNREACH: 'the network cannot be reached',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed and not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate chain is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its TLS certificate cannot be verified',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host name',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the TLS handshake failed: is it http:// rather than https://?',
};

function connectReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code ?? (err as { code?: string }).code;
  if (code && REASONS[code]) return REASONS[code];
  if (/wrong version number/i.test(cause?.message ?? '')) return REASONS.ERR_SSL_WRONG_VERSION_NUMBER!;
  // fetch (like browsers) refuses ports such as 1, 25 or 6000 outright.
  if (cause?.message === 'bad port')
    return 'fetch refuses to connect to that port (it is on its list of unsafe ports)';
  return code ?? cause?.message ?? (err as Error).message;
}

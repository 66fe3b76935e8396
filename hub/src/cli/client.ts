import type { FieldIssue } from '@fedmesh/shared';

/** An HTTP error from the hub, with what it said. */
export class ApiError extends Error {
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
}

export interface ClientOptions {
  server: string;
  token?: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export interface HubClient {
  request<T>(
    method: string,
    path: string,
    opts?: { body?: unknown; okStatuses?: number[] },
  ): Promise<{ status: number; body: T }>;
}

/** A thin JSON client: errors carry the server's code, message and field issues. */
export function createClient(opts: ClientOptions): HubClient {
  const base = opts.server.replace(/\/+$/, '');
  const doFetch = opts.fetch ?? fetch;
  return {
    async request<T>(method: string, path: string, o: { body?: unknown; okStatuses?: number[] } = {}) {
      let res: Response;
      try {
        res = await doFetch(base + path, {
          method,
          headers: {
            accept: 'application/json',
            ...(o.body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
          ...(o.body === undefined ? {} : { body: JSON.stringify(o.body) }),
          signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
        });
      } catch (err) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        const why = cause?.code ?? cause?.message ?? (err as Error).message;
        throw new ConnectError(`cannot reach the hub at ${base}: ${why}`);
      }
      const text = await res.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      if (res.ok || o.okStatuses?.includes(res.status)) return { status: res.status, body: body as T };
      const err = (body as { error?: { code?: string; message?: string; issues?: FieldIssue[] } } | undefined)
        ?.error;
      throw new ApiError(
        res.status,
        err?.code ?? `http_${res.status}`,
        err?.message ?? (typeof body === 'string' && body ? body.slice(0, 500) : res.statusText),
        err?.issues ?? [],
        body,
      );
    },
  };
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { BUILD, ErrorCode } from '@fedmesh/shared';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The hub's HTTP socket, open from the first moment of start-up. Until the API takes it over the
 * socket answers for itself: `/livez` 200 (the process runs), `/readyz` and `/healthz` 503 with
 * what the hub is waiting for, every other request 503. A hub waiting for JetStream is then a
 * live process that is not ready yet, which is what an orchestrator's probes need to tell apart
 * from a dead one; and the port is the hub's from the start.
 */
export interface EarlyListener {
  readonly server: Server;
  /** Base URL, e.g. http://127.0.0.1:8080 (the port the kernel picked, for port 0). */
  readonly url: string;
  /** What start-up waits for now, as `/readyz` says it. */
  waitingFor(what: string): void;
  /** From now on requests go to `handler` (the API's). */
  handOver(handler: Handler): void;
  close(): Promise<void>;
}

export async function listenEarly(host: string, port: number): Promise<EarlyListener> {
  let waiting = 'starting';
  let handler: Handler | undefined;
  const starting: Handler = (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/livez') return send(res, 200, { status: 'ok', build: BUILD });
    if (path === '/readyz') return send(res, 503, { status: `not ready: ${waiting}` });
    if (path === '/healthz') return send(res, 503, { status: 'starting', revision: 0, build: BUILD });
    send(res, 503, { error: { code: ErrorCode.Unavailable, message: `the hub is starting: ${waiting}` } });
  };
  const server = createServer((req, res) => (handler ?? starting)(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    waitingFor: (what) => {
      waiting = what;
    },
    handOver: (h) => {
      handler = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...(status === 503 ? { 'retry-after': '1' } : {}),
  });
  res.end(text);
}

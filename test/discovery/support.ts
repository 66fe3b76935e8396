/**
 * Support for the discovery tests that span regions: a stand-in for a region's east-west gateway.
 *
 * Other regions reach a service here through one address, the Region's `gateway` (DESIGN.md
 * "Discovery and the uplink"); in production that is an Istio east-west gateway or an Envoy in
 * TCP/SNI passthrough, which cannot run here. The stand-in does the part the tests need: a real
 * TCP listener on 127.0.0.1 that forwards each connection, whole, to the first backend that
 * accepts it, round robin over a list the test gives. Like any L4 gateway it balances
 * connections, not calls, and an established connection stays on its backend until one side
 * closes it.
 */
import { connect, createServer, type Socket } from 'node:net';

export interface Upstream {
  address: string;
  port: number;
}

export interface GatewayStandIn {
  readonly address: string;
  readonly port: number;
  /** Connections forwarded so far, per upstream `address:port`. */
  forwarded(): Record<string, number>;
  /** Connections closed at once because no upstream accepted them. */
  refused(): number;
  close(): Promise<void>;
}

/** A gateway stand-in forwarding to whatever `upstreams()` lists when a connection arrives. */
export async function startGatewayStandIn(upstreams: () => Promise<Upstream[]>): Promise<GatewayStandIn> {
  const sockets = new Set<Socket>();
  const forwarded: Record<string, number> = {};
  let refused = 0;
  let next = 0;
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => undefined);
  };
  const dial = (u: Upstream) =>
    new Promise<Socket | undefined>((resolve) => {
      const up = connect({ host: u.address, port: u.port });
      track(up);
      up.once('connect', () => resolve(up));
      up.once('error', () => resolve(undefined));
    });

  const server = createServer((down) => {
    track(down);
    down.pause();
    void (async () => {
      const list = await upstreams().catch(() => [] as Upstream[]);
      const first = next++;
      for (let i = 0; i < list.length && !down.destroyed; i++) {
        const u = list[(first + i) % list.length]!;
        // A backend that is gone refuses: try the next one.
        const up = await dial(u);
        if (!up) continue;
        if (down.destroyed) {
          up.destroy();
          return;
        }
        const key = `${u.address}:${u.port}`;
        forwarded[key] = (forwarded[key] ?? 0) + 1;
        down.pipe(up);
        up.pipe(down);
        up.once('close', () => down.destroy());
        down.once('close', () => up.destroy());
        down.resume();
        return;
      }
      refused++;
      down.destroy();
    })();
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
  return {
    address: '127.0.0.1',
    port,
    forwarded: () => ({ ...forwarded }),
    refused: () => refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

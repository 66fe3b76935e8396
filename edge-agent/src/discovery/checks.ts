/**
 * Active health checks of registered endpoints: a TCP connect, an HTTP GET (2xx or 3xx passes),
 * or the gRPC health checking protocol (grpc.health.v1.Health/Check answering SERVING, with the
 * service definition from `grpc-health-check`). Each probe is bounded by its timeout and
 * resolves to a result, never throws.
 */
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import type { Check } from './registration.js';

export interface ProbeResult {
  ok: boolean;
  /** Why it failed, in words; absent when it passed. */
  error?: string;
}

export type Probe = (
  target: { address: string; port: number },
  check: Check,
  timeoutMs: number,
) => Promise<ProbeResult>;

export const probe: Probe = (target, check, timeoutMs) => {
  if ('tcp' in check) return tcpProbe(target, timeoutMs);
  if ('http' in check) return httpProbe(target, check.http, timeoutMs);
  return grpcProbe(target, check.service ?? '', timeoutMs);
};

function hostOf(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

function tcpProbe(
  { address, port }: { address: string; port: number },
  timeoutMs: number,
): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ ok: false, error: `no TCP connection within ${timeoutMs} ms` }),
      timeoutMs,
    );
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, error: `TCP ${err.code ?? err.message}` }),
    );
  });
}

async function httpProbe(
  { address, port }: { address: string; port: number },
  path: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  try {
    const res = await fetch(`http://${hostOf(address)}:${port}${path}`, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'manual',
    });
    await res.body?.cancel();
    return res.status >= 200 && res.status < 400 ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    if (e.name === 'TimeoutError') return { ok: false, error: `no HTTP answer within ${timeoutMs} ms` };
    return { ok: false, error: `HTTP ${e.cause?.code ?? e.message}` };
  }
}

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');

function grpcProbe(
  { address, port }: { address: string; port: number },
  serviceName: string,
  timeoutMs: number,
): Promise<ProbeResult> {
  const client = new HealthClient(`${hostOf(address)}:${port}`, grpc.credentials.createInsecure());
  return new Promise((resolve) => {
    (
      client as unknown as {
        Check(
          req: { service: string },
          opts: grpc.CallOptions,
          cb: (err: grpc.ServiceError | null, res?: { status?: string | number }) => void,
        ): void;
      }
    ).Check({ service: serviceName }, { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err) {
        const why =
          err.code === grpc.status.DEADLINE_EXCEEDED ? `no answer within ${timeoutMs} ms` : err.details;
        resolve({ ok: false, error: `gRPC health: ${why || grpc.status[err.code]}` });
      } else if (res?.status === 'SERVING' || res?.status === 1) resolve({ ok: true });
      else resolve({ ok: false, error: `gRPC health: ${res?.status ?? 'no status'}` });
    });
  });
}

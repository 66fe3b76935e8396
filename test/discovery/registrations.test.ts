/**
 * The agent's registration API and `--registrations` file (IDC and VM sites), against real
 * backends on 127.0.0.1: a TCP listener, an HTTP server whose status the test flips, and a gRPC
 * server serving grpc.health.v1 (grpc-health-check's implementation). The agent runs in
 * process against a real nats-server.
 */
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, startTestAgent, type TestAgent, waitFor } from '../support/fedmesh.js';
import { type NatsServerHandle, startNatsServer } from '../support/nats.js';

interface Item {
  namespace: string;
  service: string;
  id: string;
  source: string;
  healthy: boolean;
  lastCheck: { ok: boolean; error?: string } | null;
}

const listen = (server: TcpServer | HttpServer) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );

describe('registrations (IDC and VM sites)', () => {
  let nats: NatsServerHandle;
  let agent: TestAgent;
  let tcp: TcpServer;
  let http: HttpServer;
  let grpcServer: grpc.Server;
  const health = new HealthImplementation({ '': 'SERVING' });
  let httpStatus = 200;
  const ports = { tcp: 0, http: 0, grpc: 0 };
  const fileDir: string[] = [];

  const call = async (method: string, path: string, body?: unknown, base = agent.statusUrl) => {
    const res = await fetch(`${base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const item = async (id: string, base?: string) =>
    ((await call('GET', '/v1/registrations', undefined, base)).body.items as Item[]).find((i) => i.id === id);
  const until = (id: string, healthy: boolean, what: string) =>
    waitFor(async () => (await item(id))?.healthy === healthy || undefined, { what, timeoutMs: 20_000 });

  beforeAll(async () => {
    nats = await startNatsServer();
    tcp = createTcpServer((s) => s.end());
    ports.tcp = await listen(tcp);
    http = createHttpServer((req, res) => {
      res.statusCode = req.url === '/healthz' ? httpStatus : 404;
      res.end();
    });
    ports.http = await listen(http);
    grpcServer = new grpc.Server();
    health.addToServer(grpcServer);
    ports.grpc = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    agent = await startTestAgent(nats.url, 'eu-west');
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    removeDir(agent?.stateDir ?? '');
    for (const d of fileDir) removeDir(d);
    tcp?.close();
    http?.close();
    grpcServer?.forceShutdown();
    await nats?.cleanup();
  });

  it('registrations - TCP, HTTP and gRPC health checks follow the backends, with fall and rise', async () => {
    const fast = { interval: '200ms', timeout: '150ms', fall: 2, rise: 2 };
    expect(
      (
        await call('PUT', '/v1/registrations/shop/billing/vm-1', {
          address: '127.0.0.1',
          port: ports.tcp,
          check: { tcp: true },
          ...fast,
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await call('PUT', '/v1/registrations/shop/billing/vm-2', {
          address: '127.0.0.1',
          port: ports.http,
          check: { http: '/healthz' },
          zone: 'idc-a',
          labels: { version: 'v2' },
          ...fast,
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await call('PUT', '/v1/registrations/shop/billing/vm-3', {
          address: '127.0.0.1',
          port: ports.grpc,
          check: { grpc: true },
          ...fast,
        })
      ).status,
    ).toBe(201);
    for (const id of ['vm-1', 'vm-2', 'vm-3']) await until(id, true, `${id} to pass its first check`);

    httpStatus = 503;
    health.setStatus('', 'NOT_SERVING');
    await until('vm-2', false, 'vm-2 to fail after an HTTP 503');
    await until('vm-3', false, 'vm-3 to fail after NOT_SERVING');
    expect((await item('vm-2'))!.lastCheck).toMatchObject({ ok: false, error: 'HTTP 503' });
    expect((await item('vm-3'))!.lastCheck?.error).toMatch(/NOT_SERVING/);
    expect((await item('vm-1'))!.healthy, 'the TCP backend never failed').toBe(true);

    httpStatus = 200;
    health.setStatus('', 'SERVING');
    await until('vm-2', true, 'vm-2 to rise again');
    await until('vm-3', true, 'vm-3 to rise again');

    // A closed port: the TCP check fails.
    await call('PUT', '/v1/registrations/shop/billing/vm-4', {
      address: '127.0.0.1',
      port: 9,
      check: { tcp: true },
      ...fast,
    });
    await waitFor(async () => (await item('vm-4'))?.lastCheck?.ok === false || undefined, {
      what: 'vm-4 checked',
    });
    expect((await item('vm-4'))!.healthy).toBe(false);
    expect(
      (await call('PUT', '/v1/registrations/shop/billing/vm-1', { address: '127.0.0.1', port: ports.tcp }))
        .status,
    ).toBe(200);
    expect(agent.status().registrations).toMatchObject({ count: 4 });
  });

  it('registrations - a TTL makes an endpoint unhealthy without heartbeats, and a heartbeat brings it back', async () => {
    await call('PUT', '/v1/registrations/shop/batch/job-1', {
      address: '10.9.0.1',
      port: 7000,
      ttl: '600ms',
    });
    expect((await item('job-1'))!.healthy).toBe(true);
    await until('job-1', false, 'job-1 to expire');
    expect((await call('PUT', '/v1/registrations/shop/batch/job-1/heartbeat')).status).toBe(200);
    expect((await item('job-1'))!.healthy).toBe(true);
    expect((await call('PUT', '/v1/registrations/shop/batch/nope/heartbeat')).status).toBe(404);
  });

  it('registrations - bad input is a 400 naming the field; unknown ones are 404; DELETE is 204', async () => {
    const bad = async (path: string, body: unknown, field: RegExp) => {
      const r = await call('PUT', path, body);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body.error.message).toMatch(field);
    };
    await bad('/v1/registrations/shop/billing/x', { address: '127.0.0.1', port: 0 }, /port/);
    await bad(
      '/v1/registrations/shop/billing/x',
      { address: '127.0.0.1', port: 80, check: { udp: true } },
      /check/,
    );
    await bad(
      '/v1/registrations/shop/billing/x',
      { address: '127.0.0.1', port: 80, interval: 'soon' },
      /interval/,
    );
    await bad('/v1/registrations/shop/billing/x', { port: 80 }, /address/);
    await bad(
      '/v1/registrations/shop/billing/x',
      { address: '127.0.0.1', port: 80, extra: 1 },
      /extra: unknown field/,
    );
    await bad('/v1/registrations/Shop/billing/x', { address: '127.0.0.1', port: 80 }, /namespace/);
    await bad('/v1/registrations/shop/billing/-x', { address: '127.0.0.1', port: 80 }, /id/);
    expect((await call('DELETE', '/v1/registrations/shop/billing/none')).status).toBe(404);
    expect((await call('DELETE', '/v1/registrations/shop/billing/vm-4')).status).toBe(204);
    expect(await item('vm-4')).toBeUndefined();
  });

  it('registrations - API registrations survive an agent restart; a --registrations file is loaded, followed and owns its entries', async () => {
    const stateDir = agent.stateDir;
    await agent.stop();
    const file = join(stateDir, '..', `registrations-${process.pid}.yaml`);
    writeFileSync(
      file,
      `- {namespace: shop, service: ledger, id: rack-1, address: 127.0.0.1, port: ${ports.tcp}, check: {tcp: true}, interval: 200ms}\n` +
        '- {namespace: shop, service: ledger, id: rack-2, address: 10.1.1.2, port: 8443}\n',
    );
    fileDir.push(file);
    agent = await startTestAgent(nats.url, 'eu-west', { stateDir, registrations: file });
    const ids = ((await call('GET', '/v1/registrations')).body.items as Item[]).map(
      (i) => `${i.source}:${i.id}`,
    );
    expect(ids).toEqual(
      expect.arrayContaining(['api:vm-1', 'api:vm-2', 'api:vm-3', 'api:job-1', 'file:rack-1', 'file:rack-2']),
    );
    expect(ids).not.toContain('api:vm-4');
    await until('rack-1', true, 'rack-1 to pass its check');

    // The file owns its entries.
    const denied = await call('PUT', '/v1/registrations/shop/ledger/rack-2', {
      address: '10.1.1.2',
      port: 8443,
    });
    expect(denied.status).toBe(409);
    expect(denied.body.error.message).toMatch(/--registrations file/);

    // Edits are followed; a broken edit changes nothing.
    writeFileSync(file, '- {namespace: shop, service: ledger, id: rack-3, address: 10.1.1.3, port: 8443}\n');
    await waitFor(async () => (await item('rack-3')) !== undefined || undefined, {
      what: 'the edit to be followed',
    });
    expect(await item('rack-1')).toBeUndefined();
    writeFileSync(file, '- {namespace: shop, service: ledger, id: rack-4, port: -1}\n');
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await item('rack-3')).toBeDefined();
    expect(await item('rack-4')).toBeUndefined();
  }, 60_000);
});

/**
 * Admin API throughput against a real hub on a real nats-server:
 *
 *   npx tsx test/bench/api-load.ts [--duration 10] [--connections 10]
 *
 * The hub runs as its own process (the `fedmesh-hub` bin) so that load generation and the hub do
 * not share an event loop. PUTs change the body every time (an identical PUT writes nothing), so
 * each one is a KV read, a KV write with the sync engine reacting, and an audit append.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { sampleMesh } from '@fedmesh/shared';
import autocannon, { type Result } from 'autocannon';
import { startNatsServer } from '../support/nats.js';

const { values } = parseArgs({
  options: { duration: { type: 'string', default: '10' }, connections: { type: 'string', default: '10' } },
});
const duration = Number(values.duration);
const connections = Number(values.connections);
const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = 'bench-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function startHubProcess(natsUrl: string): Promise<{ url: string; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      resolve(ROOT, 'hub/bin/fedmesh-hub.mjs'),
      '--nats',
      natsUrl,
      '--listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
    ],
    {
      env: { ...process.env, FEDMESH_ADMIN_TOKEN: TOKEN },
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return { url, proc };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || proc.exitCode !== null) throw new Error('hub did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

function service(name: string, n: number) {
  return JSON.stringify({
    apiVersion: 'fedmesh.io/v1',
    kind: 'Service',
    metadata: { name, namespace: 'bench', labels: { n: String(n) } },
    spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }], exportTo: ['eu-west'] },
  });
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const { url, proc } = await startHubProcess(nats.url);
  try {
    const seeded = await fetch(`${url}/v1/apply`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify(sampleMesh()),
    });
    if (!seeded.ok) throw new Error(`seeding failed: ${seeded.status} ${await seeded.text()}`);
    const names = Array.from({ length: 100 }, (_, i) => `svc-${i}`);
    for (const name of names) {
      await fetch(`${url}/v1/resources/Service/bench/${name}`, {
        method: 'PUT',
        headers: auth,
        body: service(name, 0),
      });
    }

    let n = 0;
    const put = await autocannon({
      url,
      connections,
      duration,
      headers: auth,
      requests: [
        {
          method: 'PUT',
          setupRequest: (req) => {
            n++;
            const name = names[n % names.length]!;
            return { ...req, path: `/v1/resources/Service/bench/${name}`, body: service(name, n) };
          },
        },
      ],
    });
    const get = await autocannon({
      url,
      connections,
      duration,
      headers: auth,
      requests: [{ method: 'GET', path: '/v1/resources/Service/shop/payments' }],
    });
    const list = await autocannon({
      url,
      connections,
      duration: Math.max(3, Math.round(duration / 2)),
      headers: auth,
      requests: [{ method: 'GET', path: '/v1/resources?kind=Service&namespace=bench' }],
    });

    const row = (name: string, r: Result) =>
      [
        name.padEnd(34),
        r.requests.average.toFixed(0).padStart(8),
        `${r.latency.p50}`.padStart(7),
        `${r.latency.p99}`.padStart(7),
        `${r.latency.max}`.padStart(7),
        `${r['2xx']}`.padStart(8),
        `${r.non2xx + r.errors + r.timeouts}`.padStart(6),
      ].join('  ');
    const out = [
      `fedmesh hub admin API — ${connections} connections, ${duration}s per scenario, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), node ${process.version}`,
      [
        'scenario'.padEnd(34),
        'req/s'.padStart(8),
        'p50 ms'.padStart(7),
        'p99 ms'.padStart(7),
        'max ms'.padStart(7),
        '2xx'.padStart(8),
        'fail'.padStart(6),
      ].join('  '),
      row('PUT /v1/resources/Service/bench/*', put),
      row('GET /v1/resources/Service/shop/…', get),
      row('GET /v1/resources?kind&namespace', list),
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    await nats.cleanup();
  }
}

await main();

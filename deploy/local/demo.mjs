#!/usr/bin/env node
// The local demo: nats-server, the hub and one agent per region on free local ports, the sample
// mesh from deploy/examples applied, two live payments backends (v1 and v2: real gRPC servers
// with the health service, run by this process) registered at eu-west's agent with gRPC health
// checks, every region's version and hash printed, and the command that calls payments through
// eu-west's xDS. Ctrl-C stops every process it started and removes its temp dir.
//
//   npm run demo                      # regions eu-west, us-east, ap-south
//   FEDMESH_DEMO_REGIONS=a,b npm run demo
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ensureNatsServer } from '../ensure-nats-server.mjs';
import { startPaymentsBackend } from './payments.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const REGIONS = (process.env.FEDMESH_DEMO_REGIONS ?? 'eu-west,us-east,ap-south')
  .split(',')
  .map((s) => s.trim());
const EXAMPLES = join(ROOT, 'deploy/examples');
/** Where the live backends run: the sample mesh exports payments to eu-west. */
const BACKEND_REGION = 'eu-west';
const KIND_ORDER = [
  'Region',
  'Service',
  'ServiceEndpoints',
  'TrafficPolicy',
  'TrafficRoute',
  'AuthorizationPolicy',
];

const children = [];
const work = mkdtempSync(join(tmpdir(), 'fedmesh-demo-'));
let stopping = false;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function start(name, cmd, args, { onEarlyExit } = {}) {
  const log = join(work, `${name}.log`);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
  const chunks = [];
  const keep = (d) => {
    chunks.push(d);
    if (chunks.length > 2000) chunks.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', (code, signal) => {
    writeFileSync(log, Buffer.concat(chunks));
    const i = children.findIndex((c) => c.child === child);
    if (!stopping && onEarlyExit?.(Buffer.concat(chunks).toString())) {
      children.splice(i, 1);
      return;
    }
    if (!stopping) {
      console.error(
        `\n${name} exited unexpectedly (code ${code}, signal ${signal}); its output is in ${log}`,
      );
      shutdown(1);
    }
  });
  children.push({ name, child });
  return child;
}

/**
 * Starts a process that listens on ports the demo picked. A free port can be taken by someone
 * else between the pick and the bind (a busy machine opens connections all the time); when the
 * process then exits with EADDRINUSE before it answers, it is started again on new ports.
 */
async function startListening(name, cmd, portCount, argsFor, readyUrlFor, what) {
  for (let attempt = 1; ; attempt++) {
    const ports = [];
    for (let i = 0; i < portCount; i++) ports.push(await freePort());
    let clash = false;
    let ready = false;
    const child = start(name, cmd, argsFor(ports), {
      onEarlyExit: (out) => (clash = attempt < 3 && /EADDRINUSE/.test(out) && !ready),
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && !clash && child.exitCode === null) {
      try {
        if ((await fetch(readyUrlFor(ports))).ok) {
          ready = true;
          return ports;
        }
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!clash) throw new Error(`${what} did not come up at ${readyUrlFor(ports)}`);
    console.error(`${name}: a port it was given was taken meanwhile; starting it again on others`);
  }
}

async function waitHttp(url, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return res.json();
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up at ${url}`);
}

async function applyExamples(hubUrl) {
  const docs = readdirSync(EXAMPLES)
    .filter((f) => /\.(ya?ml|json)$/.test(f))
    .sort()
    .flatMap((f) => parseAllDocuments(readFileSync(join(EXAMPLES, f), 'utf8')).map((d) => d.toJSON()))
    .filter(Boolean)
    .sort((a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind));
  for (const doc of docs) {
    const ns = doc.metadata.namespace ?? '_';
    const res = await fetch(`${hubUrl}/v1/resources/${doc.kind}/${ns}/${doc.metadata.name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(doc),
    });
    if (!res.ok)
      throw new Error(`applying ${doc.kind} ${ns}/${doc.metadata.name}: ${res.status} ${await res.text()}`);
  }
  return docs.length;
}

async function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping…');
  // Agents and hub first (they drain NATS), nats-server last.
  for (const { child } of [...children].reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 8_000);
      child.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
  // After a failure the logs it pointed to stay for reading.
  if (code === 0) rmSync(work, { recursive: true, force: true });
  else console.log(`logs kept in ${work}`);
  console.log('stopped every process the demo started.');
  process.exit(code);
}

process.on('SIGINT', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));

async function main() {
  const natsBin = await ensureNatsServer();
  const natsPort = await freePort();
  const natsConf = join(work, 'nats.conf');
  writeFileSync(
    natsConf,
    `listen: 127.0.0.1:${natsPort}\nserver_name: fedmesh-demo\njetstream { store_dir: "${join(work, 'jetstream')}" }\n`,
  );
  start('nats-server', natsBin, ['-c', natsConf]);
  const natsUrl = `nats://127.0.0.1:${natsPort}`;

  // Signed sync, as in production: the hub's key, and its public half for the agents' --trust.
  const signingKey = join(work, 'hub-signing.pem');
  const trustFile = join(work, 'hub-signing.pub');
  const printed = spawnSync(
    process.execPath,
    [join(ROOT, 'hub/bin/fedmesh-hub.mjs'), '--signing-key', signingKey, '--print-public-key'],
    { encoding: 'utf8' },
  );
  if (printed.status !== 0) throw new Error(`cannot make the hub signing key: ${printed.stderr}`);
  writeFileSync(trustFile, printed.stdout);

  const [hubPort] = await startListening(
    'hub',
    process.execPath,
    1,
    ([port]) => [
      join(ROOT, 'hub/bin/fedmesh-hub.mjs'),
      ...['--nats', natsUrl, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'],
      ...['--signing-key', signingKey],
    ],
    ([port]) => `http://127.0.0.1:${port}/healthz`,
    'the hub',
  );
  const hubUrl = `http://127.0.0.1:${hubPort}`;
  const applied = await applyExamples(hubUrl);

  const agents = [];
  const started = REGIONS.map(async (region) => {
    const [xdsPort, statusPort] = await startListening(
      `agent-${region}`,
      process.execPath,
      2,
      ([xds, status]) => [
        join(ROOT, 'edge-agent/bin/fedmesh-agent.mjs'),
        ...['--region', region, '--nats', natsUrl, '--state-dir', join(work, 'agents', region)],
        ...['--xds-listen', `127.0.0.1:${xds}`, '--status-listen', `127.0.0.1:${status}`],
        ...['--heartbeat', '2s', '--log-level', 'warn', '--trust', trustFile],
      ],
      ([, status]) => `http://127.0.0.1:${status}/status`,
      `agent ${region}`,
    );
    return { region, xdsPort, statusUrl: `http://127.0.0.1:${statusPort}` };
  });
  agents.push(...(await Promise.all(started)));

  const backends = [];
  const home = agents.find((a) => a.region === BACKEND_REGION);
  if (home) backends.push(...(await registerBackends(hubUrl, home)));

  const rows = [];
  for (const a of agents) {
    // The hub's view is read again each time: the registrations above may still be changing it.
    const deadline = Date.now() + 30_000;
    let view;
    let status;
    do {
      if (view) await new Promise((r) => setTimeout(r, 100));
      view = await waitHttp(`${hubUrl}/v1/regions/${a.region}/view`, `the view of ${a.region}`);
      status = await waitHttp(`${a.statusUrl}/status`, `agent ${a.region}`);
    } while (status.hash !== view.hash && Date.now() < deadline);
    rows.push({
      ...a,
      hubVersion: view.version,
      hubHash: view.hash,
      version: status.version,
      hash: status.hash,
      resources: status.resources,
    });
  }

  console.log(`\nfedmesh demo is running (${applied} resources applied from deploy/examples)\n`);
  console.log(`  hub admin API   ${hubUrl}   (try: curl ${hubUrl}/v1/regions)`);
  console.log(`  NATS            ${natsUrl}\n`);
  // The ports are picked at random, so fedmeshctl's default (127.0.0.1:8080) is not this hub.
  console.log('  point fedmeshctl at this hub (in another shell; the demo hub needs no token):');
  console.log(`    export FEDMESH_SERVER=${hubUrl}`);
  console.log(
    '    npx fedmeshctl regions; npx fedmeshctl get svc -n shop; npx fedmeshctl changes --limit 5\n',
  );
  console.log(
    '  region     version  hash              in sync  resources  agent status                 xDS (ADS)',
  );
  for (const r of rows) {
    console.log(
      `  ${r.region.padEnd(10)} ${String(r.version).padEnd(8)} ${r.hash.slice(0, 16)}  ${(r.hash === r.hubHash ? 'yes' : 'NO').padEnd(7)}  ${String(r.resources).padEnd(9)}  ${r.statusUrl}/status  127.0.0.1:${r.xdsPort}`,
    );
  }
  if (home) {
    console.log(
      `\n  payments backends, registered at ${home.region}'s agent (gRPC health checks; curl ${home.statusUrl}/v1/registrations):`,
    );
    for (const b of backends)
      console.log(`    ${b.id.padEnd(12)} 127.0.0.1:${b.port}  ${b.healthy ? 'healthy' : 'NOT healthy'}`);
    console.log(`  call payments through ${home.region}'s xDS, as a proxyless gRPC client:`);
    console.log(`    node deploy/local/call.mjs --xds 127.0.0.1:${home.xdsPort} xds:///payments.shop 20`);
  } else {
    console.log(`\n  (no live backends: they run in ${BACKEND_REGION}, which this demo does not start)`);
  }
  console.log(`\n  processes: ${children.map(({ name, child }) => `${name}=${child.pid}`).join(' ')}`);
  console.log('\nfedmesh demo ready. Press Ctrl-C to stop.');
}

/**
 * Starts payments v1 and v2 and registers them at the agent of `home` through its registration
 * API, each with a gRPC health check; waits until the hub holds them, healthy, as the endpoints
 * that agent owns (ServiceEndpoints shop/payments-<region>, replacing the example's).
 */
async function registerBackends(hubUrl, home) {
  const out = [];
  for (const version of ['v1', 'v2']) {
    const id = `payments-${version}`;
    const backend = await startPaymentsBackend({ backend: id, region: home.region, version });
    const res = await fetch(`${home.statusUrl}/v1/registrations/shop/payments/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        address: '127.0.0.1',
        port: backend.port,
        zone: `${home.region}-1a`,
        labels: { version },
        check: { grpc: true },
        interval: '2s',
      }),
    });
    if (!res.ok)
      throw new Error(`registering ${id} at ${home.region}'s agent: ${res.status} ${await res.text()}`);
    out.push({ id, port: backend.port, healthy: false });
  }
  const name = `payments-${home.region}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await fetch(`${hubUrl}/v1/resources/ServiceEndpoints/shop/${name}`);
    const stored = res.ok ? await res.json() : undefined;
    const owned = stored?.metadata.annotations?.['fedmesh.io/owner'] === `agent/${home.region}`;
    for (const b of out)
      b.healthy = owned && stored.spec.endpoints.some((e) => e.port === b.port && e.healthy !== false);
    if (out.every((b) => b.healthy)) return out;
    if (Date.now() > deadline)
      throw new Error(`the hub does not hold ${name} from ${home.region}'s agent with both backends healthy`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

main().catch((err) => {
  console.error(`demo failed: ${err.message}`);
  shutdown(1);
});

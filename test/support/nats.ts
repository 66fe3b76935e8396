/**
 * Real nats-server processes for integration tests: a single server, a JetStream cluster, or the
 * multi-region topology (a hub plus one leaf server per region, each with its own JetStream domain).
 *
 *   const nats = await startNatsServer();
 *   printLogsOnFailure(nats);                 // inside the test: a failure prints the server's logs
 *   const nc = await connect({ servers: nats.url });
 *   ...
 *   await nats.cleanup();
 *
 * or, for one server per file: `const nats = useNatsServer();` and `nats().url` inside tests.
 *
 * The binary is found like deploy/ensure-nats-server.sh finds it. Without one, startNatsServer
 * falls back to a Docker container when an engine answers; clusters, leaf nodes and restart then
 * throw, since they need processes on this host's loopback.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, beforeEach, onTestFailed } from 'vitest';
import { findNatsServerBinary } from '../../deploy/ensure-nats-server.mjs';

export interface NatsServerOptions {
  /** Enable JetStream (default true). */
  jetstream?: boolean;
  /** JetStream domain; servers joined by leaf nodes need distinct ones so their JetStream APIs stay apart. */
  domain?: string;
  /** server_name; unique per cluster. */
  name?: string;
  /** Client port; a free one is picked when absent. */
  port?: number;
  /** Appended verbatim to the generated config file. */
  extraConfig?: string;
  /** Hub leafnode URLs (`nats-leaf://127.0.0.1:N`) this server connects to as a leaf: one remote each. */
  leafRemotes?: string[];
  /**
   * One remote with several URLs (the members of a hub cluster, as deploy/nats/leaf-region.conf
   * has it): one leaf connection, to whichever member answers. A remote per member instead would
   * join the same account three times over.
   */
  leafRemoteUrls?: string[];
  /** Accept leafnode connections (on a free port, see `leafUrl`). */
  leafListen?: boolean;
  /** An `authorization { ... }` block for accepted leafnode connections (verbatim). */
  leafAuthorization?: string;
  /** Credentials for the harness's own readiness checks, when `extraConfig` turns on authorization. */
  auth?: { user: string; pass: string };
  /** Join a cluster: routes are `nats-route://127.0.0.1:M` URLs of the other members. */
  cluster?: { name?: string; port?: number; routes?: string[] };
  /**
   * JetStream store directory owned by the caller (a tmpfs it mounted, say): used instead of one
   * in the server's temp dir, and left in place by cleanup.
   */
  storeDir?: string;
  /**
   * JetStream `max_file_store` (e.g. `1G`). nats-server sizes it from the free space of the store
   * dir's file system otherwise, and a small one then refuses streams with large limits.
   */
  maxFileStore?: string;
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /**
   * JetStream store directory; survives stop/kill/restart, removed by cleanup. In the Docker fallback
   * it is a path inside the container, gone once the container stops.
   */
  readonly storeDir: string;
  readonly name: string;
  /** HTTP monitoring base URL (`/varz`, `/jsz`, `/leafz`, `/connz`, `/routez`). */
  readonly monitorUrl: string;
  /** Where leaf servers connect (`nats-leaf://…`), when started with `leafListen`. */
  readonly leafUrl: string | undefined;
  /** The last ~200 KB of the server's output, across restarts. */
  logs(): string;
  /** SIGTERM (graceful, JetStream flushes), wait for the exit; the store is kept. */
  stop(): Promise<void>;
  /** SIGKILL, as in a crash; the store is kept. */
  kill(): Promise<void>;
  /**
   * Stop if running, start again on the same ports with the same store, wait until ready. For a
   * cluster member JetStream readiness needs a quorum: restart several members with Promise.all.
   */
  restart(): Promise<void>;
  /** Stop and delete the temp dir. Safe to call twice. */
  cleanup(): Promise<void>;
}

export interface NatsCluster {
  servers: NatsServerHandle[];
  urls: string[];
  cleanup(): Promise<void>;
}

export interface HubAndLeafs {
  /** JetStream domain `hub`. */
  hub: NatsServerHandle;
  /** One leaf server per region; JetStream domain = region name. */
  leafs: Record<string, NatsServerHandle>;
  cleanup(): Promise<void>;
}

const LOG_LIMIT = 200 * 1024;
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const DOCKER_IMAGE = 'nats:2.10-alpine';
const INSTALL_HINT =
  'No nats-server binary found (checked $NATS_SERVER_BIN, PATH and /usr/sbin/nats-server) and no Docker ' +
  'engine answers. Run `bash deploy/ensure-nats-server.sh` to install nats-server.';

// Finding the binary: one lookup, shared with the demo and CI (deploy/ensure-nats-server.mjs).
export { findNatsServerBinary };

function requireBinary(what: string): string {
  const bin = findNatsServerBinary();
  if (!bin) {
    throw new Error(`${what} needs a local nats-server binary; run \`bash deploy/ensure-nats-server.sh\``);
  }
  return bin;
}

let dockerAnswered: boolean | undefined;
function dockerAnswers(): boolean {
  if (dockerAnswered === undefined) {
    try {
      execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 15_000 });
      dockerAnswered = true;
    } catch {
      dockerAnswered = false;
    }
  }
  return dockerAnswered;
}

// ---------------------------------------------------------------------------------------------
// Public entry points.

/** Start one nats-server (JetStream on by default) and wait until it serves clients and JetStream. */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findNatsServerBinary();
  if (bin) {
    // Ports chosen by us can be taken by someone else before the server binds them; pick again.
    const ownPorts = opts.port === undefined && opts.cluster?.port === undefined;
    return retryOnPortClash(() => startLocal(bin, opts), ownPorts ? 3 : 1);
  }
  if (dockerAnswers()) return startInDocker(opts);
  throw new Error(INSTALL_HINT);
}

/** A JetStream cluster of `size` routed servers; resolves once a meta leader serves JetStream. */
export async function startNatsCluster(
  size = 3,
  /** Options every member shares (a JetStream domain, leafnode listeners, accounts, auth). */
  common: Pick<NatsServerOptions, 'domain' | 'leafListen' | 'extraConfig' | 'auth'> = {},
  /** Options of single members, by index (a store dir of its own). */
  members: Array<Pick<NatsServerOptions, 'storeDir' | 'maxFileStore'> | undefined> = [],
): Promise<NatsCluster> {
  // nats-server refuses a JetStream cluster without routes.
  if (!Number.isInteger(size) || size < 2)
    throw new Error(`startNatsCluster: size must be 2 or more, got ${size}`);
  const bin = requireBinary('startNatsCluster');
  const clusterName = `fedmesh-${++clusterSeq}`;
  const servers = await retryOnPortClash(async () => {
    const routePorts = await freePorts(size);
    const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
    // Started together: no member can serve JetStream before a quorum is up.
    return startAll(
      routePorts.map(
        (port, i) => () =>
          startLocal(bin, {
            ...common,
            ...members[i],
            name: `${clusterName}-n${i + 1}`,
            cluster: { name: clusterName, port, routes: routes.filter((_, j) => j !== i) },
          }),
      ),
    );
  }, 3);
  return { servers, urls: servers.map((s) => s.url), cleanup: () => cleanupAll(servers) };
}

/**
 * The multi-region topology: a hub (JetStream domain `hub`) accepting leaf nodes, and one leaf server
 * per region with JetStream domain = region name. Resolves when every leaf reaches the hub's JetStream.
 */
export async function startHubAndLeafs(regions: string[]): Promise<HubAndLeafs> {
  checkRegionDomains(regions);
  requireBinary('startHubAndLeafs');
  const hub = await startNatsServer({ name: 'hub', domain: 'hub', leafListen: true });
  const started: NatsServerHandle[] = [hub];
  try {
    const leafUrl = hub.leafUrl!;
    const leafs = await startAll(
      regions.map(
        (region) => () => startNatsServer({ name: region, domain: region, leafRemotes: [leafUrl] }),
      ),
    );
    started.push(...leafs);
    await Promise.all(leafs.map((leaf) => waitForJetStream(leaf.url, { domain: 'hub' })));
    return {
      hub,
      leafs: Object.fromEntries(regions.map((region, i) => [region, leafs[i]!])),
      cleanup: () => cleanupAll(started),
    };
  } catch (error) {
    await cleanupAll(started);
    throw error;
  }
}

/** Region names become JetStream domains, which share the API subject space with `hub`. */
function checkRegionDomains(regions: string[]): void {
  const seen = new Set<string>(['hub']);
  for (const region of regions) {
    if (!/^[A-Za-z0-9_-]+$/.test(region) || seen.has(region)) {
      throw new Error(
        `startHubAndLeafs: '${region}' cannot be a JetStream domain here (invalid, duplicate or 'hub')`,
      );
    }
    seen.add(region);
  }
}

/**
 * Wait until JetStream answers through `url` (in `domain`, when given): after a restart, a quorum
 * loss, or a leaf reconnect.
 */
export async function waitForJetStream(
  url: string,
  opts: { domain?: string; timeoutMs?: number } = {},
): Promise<void> {
  await pollJetStream(url, opts.domain, opts.timeoutMs ?? READY_TIMEOUT_MS, undefined);
}

async function pollJetStream(
  url: string,
  domain: string | undefined,
  timeoutMs: number,
  abort: (() => Error | undefined) | undefined,
  auth?: { user: string; pass: string },
): Promise<void> {
  const where = domain ? `JetStream domain '${domain}' via ${url}` : `JetStream at ${url}`;
  await eventually(where, timeoutMs, abort, async () => {
    const nc = await connect({ servers: url, reconnect: false, timeout: 1_000, ...(auth ?? {}) });
    try {
      // jetstreamManager() asks for the account info, which fails until JetStream (and in a
      // cluster, the meta leader) is up.
      await jetstreamManager(nc, { domain, timeout: 1_000 });
    } finally {
      await nc.close();
    }
  });
}

/** Print the servers' logs if the current test fails. Call inside a test or a beforeEach. */
export function printLogsOnFailure(...handles: NatsServerHandle[]): void {
  onTestFailed(() => {
    for (const handle of handles) {
      console.error(`\n----- nats-server ${handle.name} (${handle.url}) -----\n${handle.logs()}`);
    }
  });
}

/**
 * One server for the whole file: started in beforeAll, removed in afterAll, logs printed on any
 * failing test. Returns a getter because the server exists only once beforeAll has run.
 */
export function useNatsServer(opts?: NatsServerOptions): () => NatsServerHandle {
  let handle: NatsServerHandle | undefined;
  beforeAll(async () => {
    handle = await startNatsServer(opts);
  });
  afterAll(async () => {
    await handle?.cleanup();
  });
  beforeEach(() => {
    if (handle) printLogsOnFailure(handle);
  });
  return () => {
    if (!handle) throw new Error('useNatsServer: the server is started in beforeAll; use it inside tests');
    return handle;
  };
}

// ---------------------------------------------------------------------------------------------
// Local processes.

interface ServerPlan {
  name: string;
  dir: string;
  configFile: string;
  storeDir: string;
  host: string;
  port: number;
  httpPort: number;
  leafPort: number | undefined;
  opts: NatsServerOptions;
}

let serverSeq = 0;
let clusterSeq = 0;

async function startLocal(bin: string, opts: NatsServerOptions): Promise<NatsServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-nats-'));
  liveDirs.add(dir);
  const [clientPort, httpPort, leafPort] = await freePorts(3);
  const plan: ServerPlan = {
    name: opts.name ?? `nats-${process.pid}-${++serverSeq}`,
    dir,
    configFile: join(dir, 'nats.conf'),
    storeDir: opts.storeDir ?? join(dir, 'store'),
    host: '127.0.0.1',
    port: opts.port ?? clientPort!,
    httpPort: httpPort!,
    leafPort: opts.leafListen ? leafPort : undefined,
    opts,
  };
  await writeFile(plan.configFile, renderConfig(plan));
  return launchLocal(bin, plan);
}

function renderConfig(plan: ServerPlan): string {
  const { opts, host } = plan;
  const lines = [
    `server_name: ${str(plan.name)}`,
    `listen: "${host}:${plan.port}"`,
    `http: "${host}:${plan.httpPort}"`,
  ];
  if (opts.jetstream !== false) {
    const domain = opts.domain ? `, domain: ${str(opts.domain)}` : '';
    const maxFile = opts.maxFileStore ? `, max_file_store: ${opts.maxFileStore}` : '';
    lines.push(`jetstream { store_dir: ${str(plan.storeDir)}${domain}${maxFile} }`);
  }
  const leaf: string[] = [];
  if (plan.leafPort !== undefined) leaf.push(`listen: "${host}:${plan.leafPort}"`);
  if (opts.leafAuthorization) leaf.push(opts.leafAuthorization);
  const remotes = (opts.leafRemotes ?? []).map((u) => `{ url: ${str(u)} }`);
  if (opts.leafRemoteUrls?.length) remotes.push(`{ urls: [ ${opts.leafRemoteUrls.map(str).join(', ')} ] }`);
  if (remotes.length) leaf.push(`remotes: [ ${remotes.join(', ')} ]`);
  if (leaf.length) lines.push(`leafnodes { ${leaf.join('\n  ')} }`);
  if (opts.cluster) {
    const { name = 'fedmesh', port, routes = [] } = opts.cluster;
    if (port === undefined) throw new Error('startNatsServer: cluster.port is required');
    lines.push(
      `cluster { name: ${str(name)}, listen: "${host}:${port}", routes: [ ${routes.map(str).join(', ')} ] }`,
    );
  }
  if (opts.extraConfig) lines.push(opts.extraConfig);
  return `${lines.join('\n')}\n`;
}

/** A JSON string is also a valid quoted string in the NATS config format. */
const str = (value: string): string => JSON.stringify(value);

async function launchLocal(bin: string, plan: ServerPlan): Promise<NatsServerHandle> {
  const log = createLogTail(LOG_LIMIT);
  const url = `nats://${plan.host}:${plan.port}`;
  let running: RunningServer | undefined;

  const start = async (): Promise<void> => {
    const current = spawnServer(bin, plan, log);
    running = current;
    const abort = () => (current.hasExited() ? startupFailure(plan, log) : undefined);
    if (plan.opts.jetstream === false) {
      await eventually(`nats-server ${plan.name} at ${url}`, READY_TIMEOUT_MS, abort, async () => {
        const nc = await connect({ servers: url, reconnect: false, timeout: 1_000 });
        await nc.close();
      });
    } else {
      await pollJetStream(url, undefined, READY_TIMEOUT_MS, abort, plan.opts.auth);
    }
  };
  const terminate = async (signal: NodeJS.Signals): Promise<void> => {
    const current = running;
    running = undefined;
    if (current) await signalAndWait(current, signal);
  };

  const handle: NatsServerHandle = {
    url,
    port: plan.port,
    storeDir: plan.storeDir,
    name: plan.name,
    monitorUrl: `http://${plan.host}:${plan.httpPort}`,
    leafUrl: plan.leafPort === undefined ? undefined : `nats-leaf://${plan.host}:${plan.leafPort}`,
    logs: () => log.text(),
    stop: () => terminate('SIGTERM'),
    kill: () => terminate('SIGKILL'),
    restart: async () => {
      await terminate('SIGTERM');
      log.append('\n[harness] ----- restart -----\n');
      await start();
    },
    cleanup: async () => {
      await terminate('SIGTERM');
      await rm(plan.dir, { recursive: true, force: true });
      liveDirs.delete(plan.dir);
    },
  };
  try {
    await start();
  } catch (error) {
    await handle.cleanup();
    throw error;
  }
  return handle;
}

interface RunningServer {
  child: ChildProcess;
  exited: Promise<void>;
  hasExited(): boolean;
}

function spawnServer(bin: string, plan: ServerPlan, log: LogTail): RunningServer {
  const child = spawn(bin, ['-c', plan.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let done = false;
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      done = true;
      log.append(`[harness] nats-server ${plan.name} exited (${signal ?? `code ${code}`})\n`);
      resolveExit();
    });
    // A failed spawn (ENOENT, EACCES) emits 'error' and no 'exit'.
    child.once('error', (error) => {
      done = true;
      log.append(`[harness] cannot run ${bin}: ${error.message}\n`);
      resolveExit();
    });
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => log.append(chunk));
  }
  trackForExit(child, exited);
  return { child, exited, hasExited: () => done };
}

async function signalAndWait(server: RunningServer, signal: NodeJS.Signals): Promise<void> {
  if (server.hasExited()) return;
  server.child.kill(signal);
  const timedOut = await Promise.race([server.exited.then(() => false), sleep(STOP_TIMEOUT_MS, true)]);
  if (timedOut) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
}

class PortInUseError extends Error {}

function startupFailure(plan: ServerPlan, log: LogTail): Error {
  const tail = log.text().slice(-8 * 1024);
  const message = `nats-server ${plan.name} exited during startup (config ${plan.configFile}):\n${tail}`;
  return /address already in use/i.test(tail) ? new PortInUseError(message) : new Error(message);
}

async function retryOnPortClash<T>(start: () => Promise<T>, attempts: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (!(error instanceof PortInUseError) || attempt >= attempts) throw error;
    }
  }
}

/**
 * Ports free right now, from below the kernel's ephemeral range (32768 and up on Linux). A port
 * from `listen(0)` comes from that range, and a server restarted on its ports (`restart`) found
 * them taken when an outgoing connection on the machine had been given one as its local port
 * meanwhile. All are held open together so one call never returns the same port twice; another
 * process may still take one before nats-server binds it, hence the retries.
 */
async function freePorts(count: number): Promise<number[]> {
  const servers: ReturnType<typeof createServer>[] = [];
  const ports: number[] = [];
  try {
    for (let attempt = 0; ports.length < count; attempt++) {
      const server = createServer();
      const port = attempt < 200 ? 20_000 + Math.floor(Math.random() * (EPHEMERAL_LOW - 20_000)) : 0;
      const bound = await new Promise<number | undefined>((resolvePort) => {
        server.once('error', () => resolvePort(undefined));
        server.listen(port, '127.0.0.1', () => {
          const address = server.address();
          resolvePort(address && typeof address === 'object' ? address.port : undefined);
        });
      });
      if (bound === undefined) continue;
      servers.push(server);
      ports.push(bound);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  }
}

/** Where Linux starts handing out ports for outgoing connections (the usual default if unreadable). */
const EPHEMERAL_LOW = (() => {
  try {
    return Math.min(
      32_768,
      Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0]),
    );
  } catch {
    return 32_768;
  }
})();

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: no nats-server, and no temp dir, may outlive the test process.

const liveChildren = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function trackForExit(child: ChildProcess, exited: Promise<void>): void {
  installExitHook();
  liveChildren.add(child);
  void exited.then(() => liveChildren.delete(child));
}

function removeLeftovers(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A server killed a moment ago may still be writing; a stray temp dir is no reason to fail.
    }
  }
  liveDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', removeLeftovers);
  // A signal ends the process without 'exit'. Kill the children, then let the signal do what it
  // would have done: if nobody else listens, re-raise it for the default action (termination).
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      removeLeftovers();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Docker fallback, for machines with a Docker engine but no binary. A plain container rather than
// @testcontainers/nats: NatsContainer always adds --user/--pass, and nats.js ignores credentials in a
// URL, so `handle.url` would not be usable by the hub and agent CLIs.

async function startInDocker(opts: NatsServerOptions): Promise<NatsServerHandle> {
  if (
    opts.cluster ||
    opts.leafRemotes?.length ||
    opts.leafRemoteUrls?.length ||
    opts.leafListen ||
    opts.port !== undefined
  ) {
    throw new Error(
      'startNatsServer: clusters, leaf nodes and fixed ports need a local nats-server binary; ' +
        'run `bash deploy/ensure-nats-server.sh`',
    );
  }
  const { GenericContainer, Wait } = await import('testcontainers');
  const name = opts.name ?? `nats-${process.pid}-${++serverSeq}`;
  const plan: ServerPlan = {
    name,
    dir: '',
    configFile: '/etc/nats/fedmesh.conf',
    storeDir: '/data',
    host: '0.0.0.0',
    port: 4222,
    httpPort: 8222,
    leafPort: undefined,
    opts,
  };
  const container = await new GenericContainer(DOCKER_IMAGE)
    .withCopyContentToContainer([{ content: renderConfig(plan), target: plan.configFile }])
    .withCommand(['-c', plan.configFile])
    .withExposedPorts(4222, 8222)
    .withWaitStrategy(Wait.forLogMessage(/Server is ready/))
    .start();
  const log = createLogTail(LOG_LIMIT);
  (await container.logs()).on('data', (chunk: Buffer | string) => log.append(chunk.toString()));
  const host = container.getHost();
  const url = `nats://${host}:${container.getMappedPort(4222)}`;
  let stopped: Promise<unknown> | undefined;
  const stop = (timeout?: number) => {
    stopped ??= container.stop(timeout === undefined ? {} : { timeout });
    return stopped.then(() => undefined);
  };
  const handle: NatsServerHandle = {
    url,
    port: container.getMappedPort(4222),
    storeDir: plan.storeDir,
    name,
    monitorUrl: `http://${host}:${container.getMappedPort(8222)}`,
    leafUrl: undefined,
    logs: () => log.text(),
    stop: () => stop(),
    kill: () => stop(0),
    restart: () =>
      Promise.reject(
        new Error('restart needs a local nats-server binary; run `bash deploy/ensure-nats-server.sh`'),
      ),
    cleanup: () => stop(),
  };
  if (opts.jetstream !== false) {
    try {
      await waitForJetStream(url);
    } catch (error) {
      await stop();
      throw error;
    }
  }
  return handle;
}

// ---------------------------------------------------------------------------------------------
// Small helpers.

interface LogTail {
  append(text: string): void;
  text(): string;
}

/** Keeps the last `limit` characters of output; older chunks are dropped whole. */
function createLogTail(limit: number): LogTail {
  const chunks: string[] = [];
  let size = 0;
  return {
    append(text) {
      chunks.push(text);
      size += text.length;
      while (size - chunks[0]!.length >= limit) size -= chunks.shift()!.length;
    },
    text() {
      const all = chunks.join('');
      return all.length > limit ? all.slice(-limit) : all;
    },
  };
}

/** Retry `attempt` every 100 ms until it resolves, `abort` returns an error, or time runs out. */
async function eventually(
  what: string,
  timeoutMs: number,
  abort: (() => Error | undefined) | undefined,
  attempt: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const fatal = abort?.();
    if (fatal) throw fatal;
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what} not ready after ${timeoutMs} ms`, { cause: lastError });
    }
    await sleep(100);
  }
}

/** Start several things at once; if any fails, clean up the others and rethrow the first failure. */
async function startAll(starts: Array<() => Promise<NatsServerHandle>>): Promise<NatsServerHandle[]> {
  const results = await Promise.allSettled(starts.map((start) => start()));
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  const handles = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  if (failure) {
    await cleanupAll(handles);
    throw failure.reason;
  }
  return handles;
}

async function cleanupAll(handles: NatsServerHandle[]): Promise<void> {
  await Promise.all(handles.map((handle) => handle.cleanup()));
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AgentConfig, AgentConfigSchema, type RunningAgent, startAgent } from '@fedmesh/edge-agent';
import { HubConfigSchema, type RunningHub, startHub } from '@fedmesh/hub';
import { createLogger, type Logger, type LogLevel, type Resource } from '@fedmesh/shared';

/** Tests log nothing unless FEDMESH_TEST_LOG is set (e.g. FEDMESH_TEST_LOG=debug). */
export function testLogger(name: string): Logger {
  return createLogger({ name, level: (process.env.FEDMESH_TEST_LOG as LogLevel | undefined) ?? 'silent' });
}

/** An in-process hub on a free port, with test-friendly timings. */
export async function startTestHub(
  natsUrl: string,
  overrides: Record<string, string> = {},
): Promise<RunningHub> {
  const config = HubConfigSchema.parse({
    nats: natsUrl,
    listen: '127.0.0.1:0',
    debounce: '20ms',
    maxWait: '200ms',
    ...overrides,
  });
  return step(`in-process hub on ${natsUrl} starts`, 60_000, () =>
    startHub(Object.freeze(config), testLogger('hub')),
  );
}

export interface TestAgent extends RunningAgent {
  stateDir: string;
  config: AgentConfig;
}

/** An in-process agent on free ports with its own temp state dir (reused when `stateDir` is given). */
export async function startTestAgent(
  natsUrl: string,
  region: string,
  overrides: Record<string, string> = {},
): Promise<TestAgent> {
  const stateDir = overrides.stateDir ?? mkdtempSync(join(tmpdir(), `fedmesh-agent-${region}-`));
  const config = Object.freeze({
    ...AgentConfigSchema.parse({
      region,
      nats: natsUrl,
      xdsListen: '127.0.0.1:0',
      statusListen: '127.0.0.1:0',
      heartbeat: '1s',
      ...overrides,
      stateDir,
    }),
    stateDir,
  });
  const agent = await step(`in-process agent for ${region} on ${natsUrl} starts`, 60_000, () =>
    startAgent(config, testLogger(`agent-${region}`)),
  );
  return Object.assign(agent, { stateDir, config });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Polls until `check` returns a truthy value; fails with the last value seen. The deadline holds
 * even when one check hangs (a request nobody answers): the wait ends then, naming `what`.
 */
export async function waitFor<T>(
  check: () => Promise<T> | T,
  opts: { timeoutMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<typeof EXPIRED>((r) => {
      timer = setTimeout(() => r(EXPIRED), Math.max(0, deadline - Date.now()));
    });
    try {
      const got = await Promise.race([Promise.resolve().then(check), expired]);
      if (got === EXPIRED) {
        last = new Error('the last check was still running at the deadline');
        break;
      }
      last = got;
      if (got) return got as T;
    } catch (err) {
      last = err;
    } finally {
      clearTimeout(timer);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${opts.what ?? 'condition'}; last: ${String(last instanceof Error ? last.message : JSON.stringify(last))}`,
  );
}
const EXPIRED = Symbol('expired');

/**
 * Runs one named step of a test's set-up within its own bound, so a set-up that hangs says which
 * step it was in and what that step waited for, instead of running into the hook's timeout.
 */
export async function step<T>(name: string, timeoutMs: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  try {
    return await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`set-up step "${name}" did not finish within ${timeoutMs / 1000} s`)),
          timeoutMs,
        );
      }),
    ]);
  } catch (err) {
    const e = err as Error;
    if (!e.message.startsWith('set-up step'))
      e.message = `set-up step "${name}" failed after ${Date.now() - started} ms: ${e.message}`;
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** A small JSON client for the hub's admin API. */
/** PUTs a resource and fails the test, with the hub's answer, unless it was taken. */
export async function putResource(hubUrl: string, r: Resource): Promise<void> {
  const res = await hubClient(hubUrl).put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
  if (res.status >= 300)
    throw new Error(`PUT ${r.kind}/${r.metadata.name}: ${res.status} ${JSON.stringify(res.body)}`);
}

export function hubClient(baseUrl: string, token?: string) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = text;
    }
    // biome-ignore lint/suspicious/noExplicitAny: test code reads whatever JSON the API returns
    return { status: res.status, headers: res.headers, body: json as any };
  };
  return {
    call,
    put: (kind: string, ns: string, name: string, body: unknown, headers?: Record<string, string>) =>
      call('PUT', `/v1/resources/${kind}/${ns}/${name}`, body, headers),
    get: (kind: string, ns: string, name: string) => call('GET', `/v1/resources/${kind}/${ns}/${name}`),
    del: (kind: string, ns: string, name: string, headers?: Record<string, string>) =>
      call('DELETE', `/v1/resources/${kind}/${ns}/${name}`, undefined, headers),
    view: (region: string) => call('GET', `/v1/regions/${region}/view`),
    region: (region: string) => call('GET', `/v1/regions/${region}`),
  };
}

/** A free TCP port on 127.0.0.1 (bound then released: good enough for tests on one machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface AgentProcess {
  region: string;
  statusUrl: string;
  stateDir: string;
  /** Port of the agent's ADS server on 127.0.0.1, for node proxies. */
  xdsPort: number;
  proc: ChildProcess;
  output(): string;
  /** SIGKILL, as in a crash. */
  kill9(): Promise<void>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/**
 * An agent as a real process through its bin, for crash tests. `ports` pins the listeners, so a
 * restarted agent can take over the xDS port its proxies already dial.
 */
export async function spawnAgent(
  natsUrl: string,
  region: string,
  stateDir: string,
  extra: string[] = [],
  ports: { xds?: number; status?: number } = {},
  attempt = 1,
): Promise<AgentProcess> {
  const statusPort = ports.status ?? (await freePort());
  const xdsPort = ports.xds ?? (await freePort());
  const proc = spawn(
    process.execPath,
    [
      'edge-agent/bin/fedmesh-agent.mjs',
      ...['--region', region, '--nats', natsUrl, '--state-dir', stateDir],
      ...[
        '--xds-listen',
        `127.0.0.1:${xdsPort}`,
        '--status-listen',
        `127.0.0.1:${statusPort}`,
        '--heartbeat',
        '1s',
      ],
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout?.on('data', (d) => {
    out = (out + d).slice(-100_000);
  });
  proc.stderr?.on('data', (d) => {
    out = (out + d).slice(-100_000);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const statusUrl = `http://127.0.0.1:${statusPort}`;
  try {
    await Promise.race([
      waitFor(async () => (await fetch(`${statusUrl}/status`)).ok, {
        what: `agent ${region} to listen on ${statusUrl}`,
        timeoutMs: 60_000,
      }),
      // Exited while starting: say so now rather than at the deadline.
      exited.then((code) => {
        throw new Error(`agent ${region} exited with code ${code} while starting`);
      }),
    ]);
  } catch (err) {
    proc.kill('SIGKILL');
    // A port picked free can be taken by another process before the agent binds it (a busy
    // machine opens connections all the time): pick others, unless the caller pinned them.
    const pinned = ports.status !== undefined || ports.xds !== undefined;
    if (!pinned && attempt < 3 && /EADDRINUSE/.test(out)) {
      return spawnAgent(natsUrl, region, stateDir, extra, ports, attempt + 1);
    }
    throw new Error(`${(err as Error).message}\n${out.slice(-4000)}`);
  }
  return {
    region,
    statusUrl,
    stateDir,
    xdsPort,
    proc,
    output: () => out,
    kill9: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

/** `GET /status` of an agent. */
export async function agentStatus(statusUrl: string): Promise<{
  region: string;
  version: number;
  hash: string;
  proxies: number;
  sync: { rejected: number; resyncs: number; applied: number };
}> {
  return (await (await fetch(`${statusUrl}/status`)).json()) as never;
}

/** Waits until the agent holds exactly the view the hub wants for its region. */
export async function waitConverged(
  hubUrl: string,
  statusUrl: string,
  region: string,
  timeoutMs = 20_000,
): Promise<string> {
  return waitFor<string | undefined>(
    async () => {
      const view = (await (await fetch(`${hubUrl}/v1/regions/${region}/view`)).json()) as { hash: string };
      const s = await agentStatus(statusUrl);
      return s.hash === view.hash ? view.hash : undefined;
    },
    { what: `${region} to converge on the hub's view`, timeoutMs },
  ) as Promise<string>;
}

/** A registration as the agent's `GET /v1/registrations` lists it. */
export interface RegistrationItem {
  namespace: string;
  service: string;
  id: string;
  address: string;
  port: number;
  source: 'api' | 'file';
  healthy: boolean;
  lastCheck: { ok: boolean; error?: string } | null;
}

/**
 * `PUT /v1/registrations/{namespace}/{service}/{id}` at an agent's status listener; fails the test,
 * with the agent's answer, unless it was taken (201 or 200).
 */
export async function putRegistration(
  statusUrl: string,
  key: { namespace: string; service: string; id: string },
  body: Record<string, unknown>,
): Promise<RegistrationItem> {
  const res = await fetch(`${statusUrl}/v1/registrations/${key.namespace}/${key.service}/${key.id}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201 && res.status !== 200)
    throw new Error(`PUT registration ${key.namespace}/${key.service}/${key.id}: ${res.status} ${text}`);
  return JSON.parse(text) as RegistrationItem;
}

/** `GET /v1/registrations` of an agent, optionally only those of one service. */
export async function listRegistrations(
  statusUrl: string,
  service?: { namespace: string; service: string },
): Promise<RegistrationItem[]> {
  const res = await fetch(`${statusUrl}/v1/registrations`);
  if (!res.ok) throw new Error(`GET ${statusUrl}/v1/registrations: ${res.status}`);
  const { items } = (await res.json()) as { items: RegistrationItem[] };
  return service
    ? items.filter((i) => i.namespace === service.namespace && i.service === service.service)
    : items;
}

export interface HubProcess {
  url: string;
  proc: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** A hub as a real process through its bin, on a free port, with test-friendly timings. */
export async function spawnHub(natsUrl: string, extra: string[] = [], attempt = 1): Promise<HubProcess> {
  const port = await freePort();
  const proc = spawn(
    process.execPath,
    [
      'hub/bin/fedmesh-hub.mjs',
      ...['--nats', natsUrl, '--listen', `127.0.0.1:${port}`],
      ...['--debounce', '20ms', '--max-wait', '200ms', '--log-level', 'warn'],
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  for (const s of [proc.stdout!, proc.stderr!]) s.on('data', (d) => (out = (out + d).slice(-100_000)));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  try {
    await Promise.race([
      waitFor(async () => (await fetch(`${url}/healthz`)).ok, {
        what: `the hub to answer ${url}/healthz`,
        timeoutMs: 60_000,
      }),
      exited.then((code) => {
        throw new Error(`the hub exited with code ${code} while starting`);
      }),
    ]);
  } catch (err) {
    proc.kill('SIGKILL');
    // As in spawnAgent: a port picked free may be taken before the hub binds it.
    if (attempt < 3 && /EADDRINUSE/.test(out)) return spawnHub(natsUrl, extra, attempt + 1);
    throw new Error(`${(err as Error).message}\n${out.slice(-4000)}`);
  }
  return {
    url,
    proc,
    output: () => out,
    stop: async () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

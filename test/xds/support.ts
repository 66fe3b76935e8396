/**
 * Support for the xDS integration tests: a raw ADS client (protos loaded independently of the
 * server's encoder), tiny gRPC backends that say who answered, and a proxyless gRPC client
 * (@grpc/grpc-js-xds, or gRPC C-core through Python's grpcio) running in a child process, since
 * its bootstrap is read once per process.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HealthImplementation } from 'grpc-health-check';
import { protoIncludeDirs } from '../../edge-agent/src/xds/server/protos.js';

// ---- raw ADS ------------------------------------------------------------------------------

export interface RawResponse {
  version_info?: string;
  system_version_info?: string;
  type_url: string;
  nonce: string;
  resources: { type_url?: string; name?: string; version?: string; value?: Buffer; resource?: unknown }[];
  removed_resources?: string[];
}

export interface RawStream {
  send(request: Record<string, unknown>): void;
  /** The next response, or a rejection after `timeoutMs`. */
  next(timeoutMs?: number): Promise<RawResponse>;
  /** Resolves when nothing arrives for `ms`; rejects with the response otherwise. */
  silence(ms?: number): Promise<void>;
  close(): void;
}

type AdsClient = grpc.Client & {
  StreamAggregatedResources(): grpc.ClientDuplexStream<unknown, RawResponse>;
  DeltaAggregatedResources(): grpc.ClientDuplexStream<unknown, RawResponse>;
};

let adsClientCtor: (new (address: string, creds: grpc.ChannelCredentials) => AdsClient) | undefined;

export function rawAds(port: number, protocol: 'sotw' | 'delta' = 'sotw'): RawStream {
  if (!adsClientCtor) {
    const definition = protoLoader.loadSync('envoy/service/discovery/v3/ads.proto', {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: protoIncludeDirs(),
    });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      envoy: { service: { discovery: { v3: { AggregatedDiscoveryService: typeof adsClientCtor } } } };
    };
    adsClientCtor = loaded.envoy.service.discovery.v3.AggregatedDiscoveryService;
  }
  const client = new adsClientCtor!(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const call = protocol === 'sotw' ? client.StreamAggregatedResources() : client.DeltaAggregatedResources();
  const queue: RawResponse[] = [];
  const waiters: ((r: RawResponse) => void)[] = [];
  call.on('data', (r: RawResponse) => {
    const waiter = waiters.shift();
    if (waiter) waiter(r);
    else queue.push(r);
  });
  call.on('error', () => {});
  const next = (timeoutMs = 3000): Promise<RawResponse> => {
    const queued = queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(onData), 1);
        reject(new Error(`no xDS response within ${timeoutMs} ms`));
      }, timeoutMs);
      const onData = (r: RawResponse) => {
        clearTimeout(timer);
        resolve(r);
      };
      waiters.push(onData);
    });
  };
  return {
    send: (request) => call.write(request),
    next,
    async silence(ms = 300) {
      const got = await next(ms).catch(() => undefined);
      if (got)
        throw new Error(
          `expected no response, got ${got.type_url} version ${got.version_info ?? got.system_version_info}`,
        );
    },
    close() {
      call.cancel();
      client.close();
    },
  };
}

// ---- backends -----------------------------------------------------------------------------

const json = {
  serialize: (v: unknown) => Buffer.from(JSON.stringify(v)),
  deserialize: (b: Buffer) => JSON.parse(b.toString()),
};
/** A handwritten service definition with JSON messages: no .proto needed on either side. */
export const WHO_SERVICE: grpc.ServiceDefinition = {
  Who: {
    path: '/fedmesh.test.Who/Who',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

export interface Backend {
  name: string;
  port: number;
  /** Calls answered so far. */
  calls(): number;
  /** What it answers on grpc.health.v1 (SERVING at start); it keeps answering Who either way. */
  setServing(serving: boolean): void;
  close(): Promise<void>;
}

export async function startBackend(name: string): Promise<Backend> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ '': 'SERVING' });
  health.addToServer(server);
  let calls = 0;
  server.addService(WHO_SERVICE, {
    Who: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      calls++;
      callback(null, { backend: name });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    name,
    port,
    calls: () => calls,
    setServing: (serving) => health.setStatus('', serving ? 'SERVING' : 'NOT_SERVING'),
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}

// ---- proxyless gRPC client in a child process ---------------------------------------------

export interface CallsResult {
  /** Answers per backend name. */
  counts: Record<string, number>;
  /** Failures per "CODE: details". */
  errors: Record<string, number>;
  elapsedMs: number;
}

export interface XdsClientProcess {
  /** `count` calls of Who to `target`, at most `concurrency` in flight, each with `metadata`. */
  calls(
    target: string,
    count: number,
    opts?: { deadlineMs?: number; concurrency?: number; metadata?: Record<string, string> },
  ): Promise<CallsResult>;
  /**
   * Calls `target` one at a time until a call is answered by one of `backends`; `at` is when
   * (ms since the epoch, sub-ms precision), null when `timeoutMs` passed first.
   */
  until(
    target: string,
    backends: readonly string[],
    opts?: { deadlineMs?: number; timeoutMs?: number },
  ): Promise<UntilResult>;
  stderr(): string;
  close(): Promise<void>;
  /** SIGKILL, for a client stuck in a call that will never end. */
  kill(): Promise<void>;
}

export interface UntilResult {
  at: number | null;
  backend?: string;
  calls: number;
  errors: Record<string, number>;
}

const CLIENT_SCRIPT = fileURLToPath(new URL('./xds-client.mjs', import.meta.url));
const CORE_CLIENT_SCRIPT = fileURLToPath(new URL('./grpc-core-client.py', import.meta.url));

export async function startXdsClient(opts: {
  xdsPort: number;
  nodeId: string;
  region: string;
  /** Run inside this network namespace (`ip netns exec`), as a node of a region behind a shaped link. */
  netns?: string;
  /**
   * A Python interpreter with grpcio (see `findGrpcPython`): the client is then gRPC C-core
   * instead of grpc-js-xds. Its `until` is not implemented.
   */
  python?: string;
  /** Extra environment for the client, e.g. a gRPC feature switch. */
  env?: Record<string, string>;
}): Promise<XdsClientProcess> {
  const bootstrap = {
    xds_servers: [
      {
        server_uri: `127.0.0.1:${opts.xdsPort}`,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: { id: opts.nodeId, cluster: 'test', locality: { region: opts.region, zone: `${opts.region}-a` } },
  };
  const client = opts.python ? [opts.python, CORE_CLIENT_SCRIPT] : [process.execPath, CLIENT_SCRIPT];
  const [command, ...args] = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...client] : client;
  const child: ChildProcess = spawn(command!, args, {
    env: { ...process.env, ...opts.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let buffer = '';
  type Reply = { id: number } & Record<string, unknown>;
  const pending = new Map<number, { resolve: (msg: Reply) => void; reject: (err: Error) => void }>();
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    let nl = buffer.indexOf('\n');
    while (nl >= 0) {
      const msg = JSON.parse(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
      pending.get(msg.id)?.resolve(msg);
      pending.delete(msg.id);
      nl = buffer.indexOf('\n');
    }
  });
  // A client that dies (a crash in a native client library) fails the calls it owed, not the
  // test's time budget.
  let exited: Error | undefined;
  child.on('exit', (code, signal) => {
    exited = new Error(`xDS client exited (code ${code}, signal ${signal}): ${stderr.slice(-2000)}`);
    for (const { reject } of pending.values()) reject(exited);
    pending.clear();
  });
  let nextId = 1;
  const request = <T>(msg: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(exited);
      const id = nextId++;
      pending.set(id, { resolve: (reply) => resolve(reply as T), reject });
      child.stdin!.write(`${JSON.stringify({ ...msg, id })}\n`, (err) => err && reject(err));
    });
  await request({ op: 'ping' });
  return {
    calls: (target, count, o = {}) =>
      request({
        op: 'calls',
        target,
        count,
        deadlineMs: o.deadlineMs ?? 5000,
        concurrency: o.concurrency ?? 32,
        ...(o.metadata ? { metadata: o.metadata } : {}),
      }),
    until: (target, names, o = {}) =>
      request({
        op: 'until',
        target,
        backends: names,
        deadlineMs: o.deadlineMs ?? 5000,
        timeoutMs: o.timeoutMs ?? 10_000,
      }),
    stderr: () => stderr,
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await once(child, 'exit');
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

// ---- which Python has gRPC C-core ---------------------------------------------------------

export type GrpcPython =
  | { found: true; python: string; version: string }
  | { found: false; reason: string; explicit: boolean };

/**
 * A Python whose `grpc` module (gRPC C-core) can drive test/xds/grpc-core-client.py:
 * $FEDMESH_GRPC_PYTHON when set (.ci/run sets it from deploy/ensure-grpc-python.sh), else
 * Debian's /usr/bin/python3, where `apt-get install python3-grpcio` puts the module (a pyenv or
 * venv `python3` first on PATH usually lacks it), else `python3` on PATH.
 */
export function findGrpcPython(): GrpcPython {
  const explicit = process.env.FEDMESH_GRPC_PYTHON;
  const candidates = explicit ? [explicit] : ['/usr/bin/python3', 'python3'];
  const failures: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import grpc; print(grpc.__version__)'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    const version = probe.stdout?.trim();
    if (probe.status === 0 && version) return { found: true, python, version };
    const why = probe.error?.message ?? probe.stderr?.trim().split('\n').pop() ?? `exit ${probe.status}`;
    failures.push(`${python} -c "import grpc": ${why}`);
  }
  return { found: false, reason: failures.join('; '), explicit: explicit !== undefined };
}

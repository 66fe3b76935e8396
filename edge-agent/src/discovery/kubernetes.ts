/**
 * The Kubernetes discovery source (DESIGN.md "Discovery and the uplink"): the EndpointSlices of
 * the cluster the agent runs in (or that `--kubeconfig` names), and the labels of the pods
 * behind them, followed through `@kubernetes/client-node` informers. What a slice means is
 * decided in `slices.ts`; this file keeps the informers running.
 *
 * Static stability: what the informers last listed stays the answer while the API server is
 * unreachable. A failed list or a broken watch is logged and the informer starts again after a
 * backoff, resuming its watch from the last resourceVersion; only a 410 (the server no longer
 * has the history since then) makes it list again, and a list replaces what it held. Nothing is
 * dropped because a connection broke.
 */

import { ErrorCode, FedmeshError, type Logger } from '@fedmesh/shared';
import {
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  type V1EndpointSlice,
  type V1Pod,
  Watch,
} from '@kubernetes/client-node';
import { endpointsFromSlices } from './slices.js';
import type { DiscoveredEndpoint, EndpointSource } from './source.js';

export interface KubernetesSourceOptions {
  region: string;
  /** A kubeconfig file; without it the in-cluster service account, else the default lookup. */
  kubeconfig?: string;
  /** Namespaces to follow; empty: all of them. */
  namespaces: readonly string[];
  /** A label selector on EndpointSlices (they carry their Service's labels). */
  selector?: string;
  log: Logger;
}

export interface KubernetesSourceStatus {
  /** Every informer has listed at least once. */
  synced: boolean;
  /** Failed lists and broken watches since the start. */
  errors: number;
  lastError: string | null;
  /** Lists made: each informer's first, and every one after a 410 or a failed list. */
  lists: number;
  endpoints: number;
}

export interface KubernetesSource extends EndpointSource {
  status(): KubernetesSourceStatus;
}

/** A list slower than this fails and is retried: an API server that accepts and never answers. */
const LIST_TIMEOUT_MS = 30_000;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;
/** How long the agent's start waits for the first lists; after that they arrive as changes. */
const START_WAIT_MS = 5_000;

export async function createKubernetesSource(opts: KubernetesSourceOptions): Promise<KubernetesSource> {
  const log = opts.log.child({ component: 'kubernetes' });
  const kc = loadKubeConfig(opts.kubeconfig);
  const discoveryApi = kc.makeApiClient(DiscoveryV1Api);
  const coreApi = kc.makeApiClient(CoreV1Api);
  const labelSelector = opts.selector || undefined;
  const scopes: (string | undefined)[] = opts.namespaces.length > 0 ? [...opts.namespaces] : [undefined];

  const listeners: (() => void)[] = [];
  let current: DiscoveredEndpoint[] = [];
  let currentText = '[]';
  let stopped = false;
  const counts = { errors: 0, lists: 0, lastError: null as string | null };

  // A list hands its items over one by one in one go: the endpoints are worked out once after.
  let pending: NodeJS.Immediate | undefined;
  const hooks: FollowHooks = {
    changed: () => {
      pending ??= setImmediate(recompute);
    },
    listed: () => {
      counts.lists++;
    },
    failed: (what, err, retryInMs) => {
      counts.errors++;
      counts.lastError = `${what}: ${describe(err)}`;
      log.warn(
        { err: describe(err), retryInMs, keeping: current.length },
        `cannot follow ${what}; keeping the endpoints known so far and trying again`,
      );
    },
    stopped: () => stopped,
  };

  const slices = scopes.map((namespace) =>
    followResource<V1EndpointSlice>(kc, hooks, {
      what: `EndpointSlices${namespace ? ` in ${namespace}` : ''}`,
      path: namespace
        ? `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`
        : '/apis/discovery.k8s.io/v1/endpointslices',
      list: () =>
        namespace
          ? discoveryApi.listNamespacedEndpointSlice({ namespace, labelSelector })
          : discoveryApi.listEndpointSliceForAllNamespaces({ labelSelector }),
      labelSelector,
    }),
  );
  // Pods are not filtered by the selector: it selects Services, whose pods carry other labels.
  const pods = new Map(
    scopes.map((namespace) => [
      namespace ?? '',
      followResource<V1Pod>(kc, hooks, {
        what: `pods${namespace ? ` in ${namespace}` : ''}`,
        path: namespace ? `/api/v1/namespaces/${namespace}/pods` : '/api/v1/pods',
        list: () =>
          namespace ? coreApi.listNamespacedPod({ namespace }) : coreApi.listPodForAllNamespaces(),
      }),
    ]),
  );
  const podLabels = (namespace: string, name: string) =>
    (pods.get(namespace) ?? pods.get(''))?.informer.get(name, namespace)?.metadata?.labels;

  function recompute() {
    clearImmediate(pending);
    pending = undefined;
    if (stopped) return;
    const next = endpointsFromSlices(
      slices.flatMap((s) => s.informer.list()),
      podLabels,
    );
    const text = JSON.stringify(next);
    // Pods change status all the time; only what the endpoints say is news.
    if (text === currentText) return;
    current = next;
    currentText = text;
    for (const l of listeners) l();
  }

  const all = [...slices, ...pods.values()];
  const started = Promise.all(all.map((f) => f.start()));
  const waited = await Promise.race([
    started.then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), START_WAIT_MS).unref()),
  ]);
  recompute();
  log.info(
    {
      region: opts.region,
      namespaces: opts.namespaces.length > 0 ? opts.namespaces : 'all',
      ...(labelSelector ? { selector: labelSelector } : {}),
      endpoints: current.length,
      synced: waited && all.every((f) => f.listed),
    },
    'following Kubernetes EndpointSlices',
  );

  return {
    list: () => current,
    onChange(listener) {
      listeners.push(listener);
    },
    stop() {
      stopped = true;
      clearImmediate(pending);
      for (const f of all) f.stop();
    },
    status: () => ({
      synced: all.every((f) => f.listed),
      errors: counts.errors,
      lastError: counts.lastError,
      lists: counts.lists,
      endpoints: current.length,
    }),
  };
}

interface FollowHooks {
  /** An object came, changed or went. */
  changed(): void;
  /** A list is being made. */
  listed(): void;
  failed(what: string, err: unknown, retryInMs: number): void;
  stopped(): boolean;
}

interface Followed<T extends KubernetesObject> {
  informer: ListWatch<T>;
  /** It has listed at least once. */
  listed: boolean;
  start(): Promise<void>;
  stop(): void;
}

/**
 * One informer, kept running. The informer of client-node 1.x stops for good after a failed
 * list or a broken watch (it only goes on by itself after a clean end of the stream, and lists
 * again by itself after a 410); here it is started again after a backoff, and it resumes from
 * the resourceVersion it had, keeping its objects meanwhile.
 */
function followResource<T extends KubernetesObject>(
  kc: KubeConfig,
  hooks: FollowHooks,
  spec: {
    what: string;
    path: string;
    list: () => Promise<KubernetesListObject<T>>;
    labelSelector?: string;
  },
): Followed<T> {
  let retryMs = RETRY_FIRST_MS;
  let retry: NodeJS.Timeout | undefined;
  let failedSinceStart = false;
  const list = async () => {
    hooks.listed();
    const got = await withTimeout(spec.list(), LIST_TIMEOUT_MS, `listing ${spec.what}`);
    followed.listed = true;
    return got;
  };
  const informer = new ListWatch<T>(spec.path, new ResumingWatch(kc), list, false, spec.labelSelector);
  const followed: Followed<T> = {
    informer,
    listed: false,
    async start() {
      failedSinceStart = false;
      await informer.start();
      // Listed and watching (a failure has already scheduled the next try).
      if (!failedSinceStart) retryMs = RETRY_FIRST_MS;
    },
    stop() {
      clearTimeout(retry);
      void informer.stop();
    },
  };
  informer.on('change', () => hooks.changed());
  informer.on('error', (err) => {
    // Stopping aborts the watch, which the informer reports as an error too.
    if (hooks.stopped()) return;
    failedSinceStart = true;
    hooks.failed(spec.what, err, retryMs);
    clearTimeout(retry);
    retry = setTimeout(() => {
      if (!hooks.stopped()) void followed.start();
    }, retryMs);
    retry.unref();
    retryMs = Math.min(RETRY_MAX_MS, retryMs * 2);
  });
  return followed;
}

/**
 * The informer's watch, asking for what client-go asks for: bookmarks, so that a quiet watch's
 * resourceVersion stays recent and a reconnect resumes instead of listing everything again
 * after a 410; and a server-side timeout (5 to 10 minutes, spread so agents do not reconnect in
 * step), so that a connection that died without a FIN is replaced rather than waited on forever.
 * `makeInformer` builds the same ListWatch with a plain Watch, which asks for neither.
 */
class ResumingWatch extends Watch {
  override watch(...[path, query, callback, done]: Parameters<Watch['watch']>): Promise<AbortController> {
    const timeoutSeconds = 300 + Math.floor(Math.random() * 300);
    return super.watch(path, { ...query, allowWatchBookmarks: true, timeoutSeconds }, callback, done);
  }
}

function loadKubeConfig(file: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (file) kc.loadFromFile(file);
    else if (process.env.KUBERNETES_SERVICE_HOST && process.env.KUBERNETES_SERVICE_PORT) kc.loadFromCluster();
    else kc.loadFromDefault();
  } catch (err) {
    throw new FedmeshError(
      ErrorCode.Invalid,
      `cannot load the Kubernetes configuration${file ? ` from ${file}` : ''}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new FedmeshError(
      ErrorCode.Invalid,
      `the Kubernetes configuration${file ? ` in ${file}` : ''} names no current cluster with a server`,
    );
  }
  // The client refuses plain http on every request; better said once, at the start.
  if (cluster.server.startsWith('http://') && !cluster.skipTLSVerify) {
    throw new FedmeshError(
      ErrorCode.Invalid,
      `the Kubernetes API server ${cluster.server}${file ? ` (in ${file})` : ''} is plain http: ` +
        'the client takes that only with insecure-skip-tls-verify: true on the cluster',
    );
  }
  return kc;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** One line for the log: the client's ApiException carries the whole response in its message. */
function describe(err: unknown): string {
  if (err === undefined || err === null) return 'connection closed';
  const e = err as { code?: unknown; statusCode?: unknown; body?: unknown; message?: string };
  const status =
    typeof e.code === 'number' ? e.code : typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined) {
    let reason = '';
    try {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      if (body && typeof body === 'object' && 'message' in body) reason = `: ${String(body.message)}`;
    } catch {
      // not JSON: the status says enough
    }
    return `HTTP ${status}${reason}`.slice(0, 300);
  }
  return String(e.message ?? err)
    .split('\n')[0]!
    .slice(0, 300);
}

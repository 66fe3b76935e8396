/**
 * The suite's one stand-in for a real kube-apiserver. None can run on these machines (no
 * container runtime, no kind, no etcd), so the agent's Kubernetes discovery is tested against
 * this: an HTTP server (node:http) on 127.0.0.1 that answers list and watch the way the real
 * one does, for the two resources the agent reads.
 *
 * What it emulates:
 * - `GET /apis/discovery.k8s.io/v1/endpointslices`, `/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices`,
 *   `/api/v1/pods` and `/api/v1/namespaces/{ns}/pods`;
 * - bearer-token authentication (401 with a `Status` otherwise);
 * - list: `{kind: "EndpointSliceList" | "PodList", apiVersion, metadata: {resourceVersion}, items}`,
 *   the items without kind and apiVersion (as the real server sends them);
 * - watch (`?watch=true&resourceVersion=N`): newline-delimited `{type, object}` events on a
 *   chunked 200 response, ADDED/MODIFIED/DELETED from history after N, then live; without a
 *   resourceVersion (or "0") synthetic ADDED events for what exists; `allowWatchBookmarks=true`
 *   gets the BOOKMARK events the test sends (an object of the kind with only
 *   `metadata.resourceVersion` set, as the real server sends); `timeoutSeconds` ends the stream;
 * - one resourceVersion counter for everything, monotonic, like etcd's revision;
 * - expired history: after `expireHistory()`, a watch from an older resourceVersion gets a 200,
 *   one `ERROR` event carrying `{kind: "Status", code: 410, reason: "Expired"}`, and the end of
 *   the stream (the real server's answer on watch; only a list helps the client then);
 * - `labelSelector` (=, ==, !=, exists, !exists, in, notin) on list and watch, with the real
 *   watch cache's rule for objects whose labels change: one that starts matching arrives as
 *   ADDED, one that stops matching as DELETED;
 * - cutting every watch connection (`cutWatches`), and going away altogether (`goDown`,
 *   connections refused) and coming back on the same port (`comeBack`), state kept.
 *
 * What it does not: TLS, authorization (RBAC), any other resource or verb (create, update,
 * delete and patch go through the test's `put` and `remove`), field selectors, paging
 * (`limit`/`continue`), `resourceVersionMatch`, `sendInitialEvents`, server-side apply,
 * admission, protobuf, the 504 for a resourceVersion from the future, and the real server's
 * own timing (watch cache delays, periodic bookmarks: bookmarks come only when the test says).
 * Object shapes are the real API's (EndpointSlice: addressType, endpoints[].addresses,
 * conditions{ready,serving,terminating}, targetRef, zone, nodeName, ports[]; the
 * `kubernetes.io/service-name` label), as the builders below make them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KubeResource = 'endpointslices' | 'pods';

interface KubeObject {
  kind?: string;
  apiVersion?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEvent {
  rv: number;
  type: EventType;
  object: KubeObject;
  /** For MODIFIED: the object before, for the selector rule. */
  previous?: KubeObject;
}

const TYPES: Record<KubeResource, { prefix: string; kind: string; listKind: string; apiVersion: string }> = {
  endpointslices: {
    prefix: '/apis/discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    listKind: 'EndpointSliceList',
    apiVersion: 'discovery.k8s.io/v1',
  },
  pods: { prefix: '/api/v1', kind: 'Pod', listKind: 'PodList', apiVersion: 'v1' },
};

const PATH_RE =
  /^(\/apis\/discovery\.k8s\.io\/v1|\/api\/v1)(?:\/namespaces\/([a-z0-9-]+))?\/(endpointslices|pods)$/;

interface Watcher {
  resource: KubeResource;
  namespace?: string;
  selector: Selector;
  bookmarks: boolean;
  res: ServerResponse;
  socket: Socket;
  timer?: NodeJS.Timeout;
}

export interface KubeApiServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** A kubeconfig file (http, bearer token, `insecure-skip-tls-verify`) pointing at this server. */
  kubeconfig: string;
  token: string;
  /** Creates or replaces an object (ADDED or MODIFIED); returns its new resourceVersion. */
  put(resource: KubeResource, object: KubeObject): string;
  /** Deletes an object (DELETED); false when there was none. */
  remove(resource: KubeResource, namespace: string, name: string): boolean;
  /** The current resourceVersion. */
  resourceVersion(): number;
  /** A BOOKMARK at the current resourceVersion to every watch that asked for them; how many. */
  bookmark(): number;
  /** Forgets the history up to now: a watch from an older resourceVersion is answered with a 410. */
  expireHistory(): void;
  /** Drops every watch connection (no clean end); how many. */
  cutWatches(): number;
  /** Stops listening and drops every connection: the API server is unreachable. State is kept. */
  goDown(): Promise<void>;
  /** Listens again on the same port. */
  comeBack(): Promise<void>;
  /** Open watches, for one resource or all. */
  watchers(resource?: KubeResource): number;
  /** What clients asked, per resource. */
  requests: Record<KubeResource, { lists: number; watches: number; expired: number }>;
  /** The query of each watch request, in order (to check what clients ask for). */
  watchQueries: URLSearchParams[];
  close(): Promise<void>;
}

export async function startKubeApiServer(): Promise<KubeApiServer> {
  const token = randomBytes(16).toString('hex');
  const store: Record<KubeResource, Map<string, KubeObject>> = { endpointslices: new Map(), pods: new Map() };
  const history: Record<KubeResource, HistoryEvent[]> = { endpointslices: [], pods: [] };
  let rv = 1;
  /** A watch from below this is too old. */
  let oldest = 0;
  const watchers = new Set<Watcher>();
  const sockets = new Set<Socket>();
  const requests = {
    endpointslices: { lists: 0, watches: 0, expired: 0 },
    pods: { lists: 0, watches: 0, expired: 0 },
  };
  const watchQueries: URLSearchParams[] = [];

  const withType = (resource: KubeResource, o: KubeObject): KubeObject => ({
    kind: TYPES[resource].kind,
    apiVersion: TYPES[resource].apiVersion,
    ...o,
  });
  const write = (w: Watcher, type: string, object: unknown) => {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify({ type, object })}\n`);
  };
  /** What one change looks like through a watch with `sel` (the watch cache's rule). */
  const seenAs = (e: HistoryEvent, sel: Selector, namespace?: string): EventType | undefined => {
    if (namespace && e.object.metadata.namespace !== namespace) return undefined;
    const now = sel(e.object.metadata.labels ?? {});
    if (e.type !== 'MODIFIED') return now ? e.type : undefined;
    const before = e.previous ? sel(e.previous.metadata.labels ?? {}) : false;
    if (before && now) return 'MODIFIED';
    if (now) return 'ADDED';
    if (before) return 'DELETED';
    return undefined;
  };
  const record = (resource: KubeResource, e: HistoryEvent) => {
    history[resource].push(e);
    for (const w of watchers) {
      if (w.resource !== resource) continue;
      const type = seenAs(e, w.selector, w.namespace);
      if (type) write(w, type, withType(resource, e.object));
    }
  };

  const status = (res: ServerResponse, code: number, reason: string, message: string) => {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message,
        reason,
        code,
      }),
    );
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (req.headers.authorization !== `Bearer ${token}`)
      return status(res, 401, 'Unauthorized', 'Unauthorized');
    const m = PATH_RE.exec(url.pathname);
    const resource = m?.[3] as KubeResource | undefined;
    if (!m || !resource || TYPES[resource].prefix !== m[1])
      return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    if (req.method !== 'GET')
      return status(res, 405, 'MethodNotAllowed', 'the stand-in only lists and watches');
    const namespace = m[2];
    const q = url.searchParams;
    let selector: Selector;
    try {
      selector = parseSelector(q.get('labelSelector') ?? '');
    } catch (err) {
      return status(res, 400, 'BadRequest', `unable to parse requirement: ${(err as Error).message}`);
    }
    const matching = () =>
      [...store[resource].values()].filter(
        (o) => (!namespace || o.metadata.namespace === namespace) && selector(o.metadata.labels ?? {}),
      );

    if (q.get('watch') !== 'true' && q.get('watch') !== '1') {
      requests[resource].lists++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          kind: TYPES[resource].listKind,
          apiVersion: TYPES[resource].apiVersion,
          metadata: { resourceVersion: String(rv) },
          items: matching(),
        }),
      );
      return;
    }

    requests[resource].watches++;
    watchQueries.push(q);
    const from = q.get('resourceVersion');
    const fromRv = from === null || from === '' || from === '0' ? undefined : Number(from);
    if (fromRv !== undefined && !Number.isSafeInteger(fromRv))
      return status(res, 400, 'BadRequest', `invalid resource version: ${from}`);
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = {
      resource,
      ...(namespace ? { namespace } : {}),
      selector,
      bookmarks: q.get('allowWatchBookmarks') === 'true',
      res,
      socket: req.socket,
    };
    if (fromRv !== undefined && fromRv < oldest) {
      requests[resource].expired++;
      write(w, 'ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${fromRv} (${oldest})`,
        reason: 'Expired',
        code: 410,
      });
      res.end();
      return;
    }
    if (fromRv === undefined) {
      for (const o of matching()) write(w, 'ADDED', withType(resource, o));
    } else {
      for (const e of history[resource]) {
        if (e.rv <= fromRv) continue;
        const type = seenAs(e, selector, namespace);
        if (type) write(w, type, withType(resource, e.object));
      }
    }
    watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? '');
    if (timeout > 0) w.timer = setTimeout(() => res.end(), timeout * 1000);
    const drop = () => {
      clearTimeout(w.timer);
      watchers.delete(w);
    };
    res.on('close', drop);
    res.on('finish', drop);
  };

  const server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const port = await listen(0);
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-kube-'));
  const kubeconfig = join(dir, 'kubeconfig.yaml');
  writeFileSync(
    kubeconfig,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '  - name: stand-in',
      // client-node refuses an http:// server unless told to skip TLS verification (there is none).
      `    cluster: { server: "${url}", insecure-skip-tls-verify: true }`,
      'users:',
      '  - name: fedmesh-agent',
      `    user: { token: "${token}" }`,
      'contexts:',
      '  - name: stand-in',
      '    context: { cluster: stand-in, user: fedmesh-agent }',
      'current-context: stand-in',
      '',
    ].join('\n'),
  );
  const down = async () => {
    for (const w of watchers) clearTimeout(w.timer);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  };

  return {
    url,
    kubeconfig,
    token,
    requests,
    watchQueries,
    put(resource, object) {
      const key = `${object.metadata.namespace}/${object.metadata.name}`;
      const previous = store[resource].get(key);
      rv++;
      const stored: KubeObject = structuredClone({
        ...object,
        metadata: {
          // What the server sets and keeps across updates.
          uid: (previous?.metadata as { uid?: string } | undefined)?.uid ?? randomUUID(),
          creationTimestamp:
            (previous?.metadata as { creationTimestamp?: string } | undefined)?.creationTimestamp ??
            new Date().toISOString(),
          ...object.metadata,
          resourceVersion: String(rv),
        },
      });
      delete stored.kind;
      delete stored.apiVersion;
      store[resource].set(key, stored);
      record(resource, {
        rv,
        type: previous ? 'MODIFIED' : 'ADDED',
        object: stored,
        ...(previous ? { previous } : {}),
      });
      return String(rv);
    },
    remove(resource, namespace, name) {
      const key = `${namespace}/${name}`;
      const previous = store[resource].get(key);
      if (!previous) return false;
      store[resource].delete(key);
      rv++;
      // A deleted object comes with the resourceVersion of its deletion.
      const object = { ...previous, metadata: { ...previous.metadata, resourceVersion: String(rv) } };
      record(resource, { rv, type: 'DELETED', object });
      return true;
    },
    resourceVersion: () => rv,
    bookmark() {
      let n = 0;
      for (const w of watchers) {
        if (!w.bookmarks) continue;
        const metadata = { resourceVersion: String(rv), creationTimestamp: null };
        const { kind, apiVersion } = TYPES[w.resource];
        write(
          w,
          'BOOKMARK',
          w.resource === 'endpointslices'
            ? { kind, apiVersion, metadata, addressType: '', endpoints: null }
            : { kind, apiVersion, metadata, spec: { containers: null }, status: {} },
        );
        n++;
      }
      return n;
    },
    expireHistory() {
      oldest = rv;
      history.endpointslices = [];
      history.pods = [];
    },
    cutWatches() {
      let n = 0;
      for (const w of [...watchers]) {
        w.socket.destroy();
        watchers.delete(w);
        n++;
      }
      return n;
    },
    goDown: down,
    async comeBack() {
      await listen(port);
    },
    watchers: (resource) => [...watchers].filter((w) => !resource || w.resource === resource).length,
    async close() {
      if (server.listening) await down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---- Objects of the real API's shapes ------------------------------------------------------

export interface SliceEndpoint {
  ip: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  /** The pod behind it (targetRef). */
  pod?: string;
  zone?: string;
  nodeName?: string;
}

/** An EndpointSlice as the EndpointSlice controller writes it for Service `service`. */
export function endpointSlice(o: {
  namespace: string;
  service: string;
  name?: string;
  addressType?: 'IPv4' | 'IPv6' | 'FQDN';
  /** The Service's labels (the controller copies them onto its slices). */
  labels?: Record<string, string>;
  ports?: { name?: string; port: number; protocol?: string }[];
  endpoints: SliceEndpoint[];
}): KubeObject {
  return {
    metadata: {
      name: o.name ?? `${o.service}-${randomBytes(3).toString('hex').slice(0, 5)}`,
      namespace: o.namespace,
      generation: 1,
      labels: {
        ...o.labels,
        'kubernetes.io/service-name': o.service,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
      ownerReferences: [
        {
          apiVersion: 'v1',
          kind: 'Service',
          name: o.service,
          uid: randomUUID(),
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    } as KubeObject['metadata'],
    addressType: o.addressType ?? 'IPv4',
    endpoints: o.endpoints.map((e) => {
      const ready = e.ready ?? true;
      return {
        addresses: [e.ip],
        conditions: { ready, serving: e.serving ?? ready, terminating: e.terminating ?? false },
        ...(e.pod
          ? { targetRef: { kind: 'Pod', namespace: o.namespace, name: e.pod, uid: randomUUID() } }
          : {}),
        ...(e.nodeName ? { nodeName: e.nodeName } : {}),
        ...(e.zone ? { zone: e.zone } : {}),
      };
    }),
    ports: (o.ports ?? [{ name: 'http', port: 8080 }]).map((p) => ({
      ...(p.name === undefined ? {} : { name: p.name }),
      port: p.port,
      protocol: p.protocol ?? 'TCP',
    })),
  };
}

/** A running pod. */
export function pod(o: {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ip?: string;
  nodeName?: string;
}): KubeObject {
  return {
    metadata: { name: o.name, namespace: o.namespace, labels: o.labels },
    spec: {
      nodeName: o.nodeName ?? 'node-1',
      containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }],
    },
    status: {
      phase: 'Running',
      ...(o.ip ? { podIP: o.ip, podIPs: [{ ip: o.ip }] } : {}),
      conditions: [{ type: 'Ready', status: 'True' }],
    },
  };
}

// ---- Label selectors, as the API server reads them (its own reading, not the agent's) ------

type Selector = (labels: Record<string, string>) => boolean;

function parseSelector(text: string): Selector {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  const reqs: Selector[] = [];
  for (const raw of parts) {
    const part = raw.trim();
    if (part === '') {
      if (parts.length === 1) break;
      throw new Error('empty requirement');
    }
    const absent = /^!\s*([^\s!=(),]+)$/.exec(part);
    const compare = /^([^\s!=(),]+)\s*(==|=|!=)\s*([^\s!=(),]*)$/.exec(part);
    const set = /^([^\s!=(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
    const present = /^([^\s!=(),]+)$/.exec(part);
    if (absent) {
      const k = absent[1]!;
      reqs.push((l) => !(k in l));
    } else if (compare) {
      const [, k, op, v] = compare as unknown as [string, string, string, string];
      reqs.push(op === '!=' ? (l) => l[k] !== v : (l) => l[k] === v);
    } else if (set) {
      const [, k, op, list] = set as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      reqs.push(op === 'in' ? (l) => k in l && values.has(l[k]!) : (l) => !(k in l) || !values.has(l[k]!));
    } else if (present) {
      const k = present[1]!;
      reqs.push((l) => k in l);
    } else throw new Error(`"${part}"`);
  }
  return (labels) => reqs.every((r) => r(labels));
}

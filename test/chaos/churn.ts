/**
 * The churn driver: writes through the hubs' REST API, alternating between them, and keeps a
 * ledger of what each key may hold at the end.
 *
 * Every write carries a precondition (If-Match on the revision last seen, If-None-Match: * for a
 * create), so a write whose answer was lost (a hub killed or paused mid-request, a 503 from a
 * hub between NATS servers) can only ever land on the state it was made against. Then, per key:
 * the end state must be the last acknowledged write (a delete is a write: absent), or one of the
 * writes attempted after it whose answer never came. Anything else is a lost acknowledged write.
 *
 * Two kinds of keys, each written by one lane at a time (a lane is sequential), so "last" means
 * something:
 *  - the mesh's ServiceEndpoints, which always exist and are updated in place;
 *  - AuthorizationPolicies with a life cycle: created, updated, deleted, and their name never used
 *    again. A create whose answer was lost is never retried under the same name (If-None-Match
 *    would let a late copy of it land after a later delete): the name is given up, and may hold
 *    the create or nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { API_VERSION, canonicalJson, type Resource } from '@fedmesh/shared';

/** What a key holds: the canonical JSON of its spec, or null when absent. */
export type Content = string | null;

export interface KeyLedger {
  kind: string;
  name: string;
  /** The last acknowledged state (the set-up state for a ServiceEndpoints, absent for a policy). */
  acked: Content;
  /** Writes attempted after `acked` whose outcome is unknown. */
  since: Content[];
}

export interface ChurnStats {
  attempted: number;
  acknowledged: number;
  /** Answers that say the precondition failed (412, 409, 404): a write that did not happen. */
  refused: number;
  /** The same, by status code. */
  refusedBy: Record<string, number>;
  /** Timeouts, connection errors, 5xx: the outcome is unknown. */
  unknown: number;
  /** Other 4xx answers: the driver's own mistakes, which a run should never have. */
  invalid: number;
  lastInvalid?: string;
  byHub: number[];
}

export interface Churn {
  stats: ChurnStats;
  ledger(): KeyLedger[];
  /** Stops after the writes in flight; resolves when every lane has. */
  stop(): Promise<void>;
}

const NAMESPACE = 'shop';
const REQUEST_TIMEOUT_MS = 5_000;
/** Live policies per lane; each is deleted after a few updates and a new one created. */
const POLICIES_PER_LANE = 3;
const SERVICES = ['frontend', 'checkout', 'payments'] as const;

/** The mesh's endpoints as the churn starts them, besides sampleMesh's own. */
export function extraEndpoints(regions: readonly string[]): Resource[] {
  const out: Resource[] = [];
  for (const region of regions) {
    for (const service of ['frontend', 'checkout'] as const) {
      if (region === 'eu-west') continue; // sampleMesh has these
      out.push(endpoints(service, region, 0, 1));
    }
  }
  return out;
}

function endpoints(service: string, region: string, seq: number, n: number): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: `${service}-${region}`, namespace: NAMESPACE },
    spec: {
      service,
      region,
      endpoints: Array.from({ length: n }, (_, i) => ({
        address: `10.${i}.${(seq >> 8) & 255}.${seq & 255}`,
        port: 8080,
        // The write's number makes every write's content its own.
        labels: { write: String(seq) },
      })),
    },
  } as Resource;
}

function policy(name: string, service: string, seq: number, deny: boolean): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'AuthorizationPolicy',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      service,
      action: deny ? 'deny' : 'allow',
      rules: [{ from: [`${NAMESPACE}/caller-${seq}`], paths: [`/w/${seq}`] }],
    },
  } as Resource;
}

const contentOf = (r: Resource | undefined): Content => (r ? canonicalJson(r.spec) : null);

interface KeyState extends KeyLedger {
  /** The revision last seen, for the next precondition; undefined when unknown or absent. */
  revision?: number;
  exists: boolean;
  /** The last write's outcome is unknown: read before writing again. */
  doubt: boolean;
  /** Policies only: updates left before its delete; retired once deleted or given up. */
  updatesLeft?: number;
  retired?: boolean;
  service?: string;
}

export interface ChurnOptions {
  hubUrls: string[];
  /** ServiceEndpoints that exist at the start: (name, resource). */
  endpoints: Resource[];
  lanes?: number;
  /** Pause between one lane's writes. */
  pauseMs?: number;
  random: () => number;
}

export function startChurn(opts: ChurnOptions): Churn {
  const lanes = opts.lanes ?? 2;
  const stats: ChurnStats = {
    attempted: 0,
    acknowledged: 0,
    refused: 0,
    refusedBy: {},
    unknown: 0,
    invalid: 0,
    byHub: opts.hubUrls.map(() => 0),
  };
  const keys: KeyState[] = [];
  let seq = 0;
  let turn = 0;
  let running = true;
  const nextHub = () => {
    const i = turn++ % opts.hubUrls.length;
    return { i, url: opts.hubUrls[i]! };
  };

  const call = async (
    method: string,
    kind: string,
    name: string,
    body?: Resource,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; revision?: number; body?: Resource } | undefined> => {
    const hub = nextHub();
    try {
      const res = await fetch(`${hub.url}/v1/resources/${kind}/${NAMESPACE}/${name}`, {
        method,
        headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await res.text();
      if (method !== 'GET' && res.status < 500) stats.byHub[hub.i]!++;
      const json = text ? (JSON.parse(text) as Resource & { revision?: number }) : undefined;
      const etag = res.headers.get('etag');
      const revision = etag ? Number(etag.replaceAll('"', '')) : json?.revision;
      if (res.status >= 400 && res.status < 500 && ![404, 409, 412].includes(res.status)) {
        stats.invalid++;
        stats.lastInvalid = `${method} ${kind}/${name}: ${res.status} ${text.slice(0, 300)}`;
      }
      return {
        status: res.status,
        ...(revision === undefined ? {} : { revision }),
        ...(json ? { body: json } : {}),
      };
    } catch {
      return undefined; // no answer: timed out, refused, reset
    }
  };

  /** Reads a key to learn its revision; true when the answer was definite. */
  const refresh = async (k: KeyState): Promise<boolean> => {
    const res = await call('GET', k.kind, k.name);
    if (!res || res.status >= 500) return false;
    if (res.status === 404) {
      k.exists = false;
      delete k.revision;
    } else if (res.status === 200) {
      k.exists = true;
      if (res.revision !== undefined) k.revision = res.revision;
    } else {
      return false;
    }
    return true;
  };

  /** One write and its bookkeeping. */
  const write = async (k: KeyState, method: 'PUT' | 'DELETE', body?: Resource): Promise<void> => {
    const headers: Record<string, string> =
      method === 'PUT' && !k.exists ? { 'if-none-match': '*' } : { 'if-match': `"${k.revision}"` };
    const content = method === 'DELETE' ? null : contentOf(body);
    stats.attempted++;
    const res = await call(method, k.kind, k.name, body, headers);
    if (res && res.status < 300) {
      stats.acknowledged++;
      k.acked = content;
      k.since = [];
      k.doubt = false;
      k.exists = method === 'PUT';
      if (method === 'PUT' && res.revision !== undefined) k.revision = res.revision;
      else delete k.revision;
      return;
    }
    if (res && (res.status === 412 || res.status === 409 || res.status === 404)) {
      // Not written; the key is not where this lane thought (a write in doubt did land).
      stats.refused++;
      stats.refusedBy[res.status] = (stats.refusedBy[res.status] ?? 0) + 1;
      k.doubt = true;
      return;
    }
    if (res && res.status < 500) {
      stats.refused++; // counted as invalid too
      k.doubt = true;
      return;
    }
    stats.unknown++;
    k.since.push(content);
    k.doubt = true;
  };

  const newPolicy = (lane: number): KeyState => {
    const k: KeyState = {
      kind: 'AuthorizationPolicy',
      name: `chaos-l${lane}-${++seq}`,
      acked: null,
      since: [],
      exists: false,
      doubt: false,
      updatesLeft: 1 + Math.floor(opts.random() * 4),
      service: SERVICES[Math.floor(opts.random() * SERVICES.length)]!,
    };
    keys.push(k);
    return k;
  };

  const stepPolicy = async (k: KeyState): Promise<void> => {
    if (k.doubt) {
      if (!(await refresh(k))) return;
      k.doubt = false;
      // A create whose answer was lost and that is not there (yet): give the name up.
      if (!k.exists && k.acked === null) {
        k.retired = true;
        return;
      }
      // Deleted by a write in doubt: it is done.
      if (!k.exists) {
        k.retired = true;
        return;
      }
    }
    const s = ++seq;
    if (!k.exists) {
      await write(k, 'PUT', policy(k.name, k.service!, s, opts.random() < 0.15));
      // A refused create means the name exists: this lane made it, with a write in doubt.
    } else if (k.updatesLeft! > 0) {
      k.updatesLeft!--;
      await write(k, 'PUT', policy(k.name, k.service!, s, opts.random() < 0.15));
    } else {
      await write(k, 'DELETE');
      if (!k.exists && !k.doubt) k.retired = true;
    }
  };

  const stepEndpoints = async (k: KeyState): Promise<void> => {
    if (k.doubt || k.revision === undefined) {
      if (!(await refresh(k))) return;
      k.doubt = false;
    }
    const s = ++seq;
    const [service, region] = [k.service!, k.name.slice(k.service!.length + 1)];
    await write(k, 'PUT', endpoints(service, region, s, 1 + (s % 4)));
  };

  // ServiceEndpoints are dealt to the lanes in turn.
  const laneEndpoints: KeyState[][] = Array.from({ length: lanes }, () => []);
  opts.endpoints.forEach((r, i) => {
    const spec = r.spec as { service: string };
    const k: KeyState = {
      kind: r.kind,
      name: r.metadata.name,
      acked: contentOf(r),
      since: [],
      exists: true,
      doubt: true, // revision unknown until read
      service: spec.service,
    };
    keys.push(k);
    laneEndpoints[i % lanes]!.push(k);
  });

  const lane = async (l: number): Promise<void> => {
    const policies: KeyState[] = [];
    while (running) {
      while (policies.length < POLICIES_PER_LANE) policies.push(newPolicy(l));
      const pick = opts.random();
      const own = laneEndpoints[l]!;
      if (own.length > 0 && pick < 0.6) {
        await stepEndpoints(own[Math.floor(opts.random() * own.length)]!);
      } else {
        const i = Math.floor(opts.random() * policies.length);
        await stepPolicy(policies[i]!);
        if (policies[i]!.retired) policies.splice(i, 1);
      }
      await sleep(opts.pauseMs ?? 10);
    }
  };
  const done = Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));

  return {
    stats,
    ledger: () => keys.map(({ kind, name, acked, since }) => ({ kind, name, acked, since: [...since] })),
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/**
 * The REST fuzz suite (issue "Trust", item 4): 10,500 generated bad requests from a fixed seed,
 * over real HTTP (keep-alive sockets, raw paths) to a real hub on a real nats-server. Whatever
 * comes, the answer is below 500 (a 4xx with our error body, or a 2xx where a mutation happened
 * to be valid), and the hub is alive and writable afterwards. The counts by category and status
 * are printed, so a run says what it covered.
 */
import { Agent, request } from 'node:http';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, sampleMesh } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hubClient, startTestHub } from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

const SEED = 0xfed5eed;
const BODY_LIMIT = 64 * 1024;

/** mulberry32: small, fast, and the same sequence on every machine. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  /** Log-uniform between lo and hi: as many small cases as huge ones. */
  const size = (lo: number, hi: number) => Math.floor(lo * (hi / lo) ** next());
  return { next, int, pick, size };
}
type Rnd = ReturnType<typeof prng>;

interface Req {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const YAML_TYPE = { 'content-type': 'application/yaml' };
const MANIFESTS = sampleMesh();
const pathOf = (m: (typeof MANIFESTS)[number]) =>
  `/v1/resources/${m.kind}/${m.metadata.namespace ?? '_'}/${m.metadata.name}`;

/** Where a body goes: one resource, the bulk apply, or a preview. */
function target(rnd: Rnd, m: (typeof MANIFESTS)[number]): { method: string; path: string } {
  return rnd.pick([
    { method: 'PUT', path: pathOf(m) },
    { method: 'POST', path: '/v1/apply' },
    { method: 'POST', path: '/v1/apply?dryRun=true' },
    { method: 'POST', path: '/v1/resources' },
    { method: 'POST', path: '/v1/regions/eu-west/preview' },
  ]);
}

/** Every string, number and container position of a value, as paths. */
function paths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) {
  out.push(at);
  if (v && typeof v === 'object')
    for (const [k, c] of Object.entries(v)) paths(c, [...at, Array.isArray(v) ? Number(k) : k], out);
  return out;
}
function setAt(v: unknown, at: (string | number)[], value: unknown): unknown {
  if (at.length === 0) return value;
  const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, unknown>;
  copy[at[0]!] = setAt(copy[at[0]!], at.slice(1), value);
  return copy;
}

const ODD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  '',
  ' ',
  'NaN',
  'Infinity',
  '-0',
  '1e400',
  [],
  [[]],
  {},
  { a: 1 },
  '\u0000',
  '\ud800',
  'x'.repeat(300),
  '../../etc/passwd',
  '<script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal text is the point
  '${jndi:ldap://x}',
];

function nested(rnd: Rnd, depth: number, yaml: boolean): string {
  const kind = rnd.int(3);
  if (!yaml || kind < 2) {
    const open = kind === 0 ? '[' : '{"a":';
    const close = kind === 0 ? ']' : '}';
    return `{"apiVersion":"${API_VERSION}","kind":"Service","metadata":{"name":"deep","namespace":"shop"},"spec":${open.repeat(depth)}1${close.repeat(depth)}}`;
  }
  // Block nesting: its indentation grows with the depth, so the body limit bounds it.
  let out = `apiVersion: ${API_VERSION}\nkind: Service\nmetadata: {name: deep, namespace: shop}\nspec:\n`;
  for (let i = 1; i <= depth && out.length < 900_000; i++) out += `${' '.repeat(i)}a:\n`;
  return `${out}${' '.repeat(depth + 1)}1\n`;
}

const GENERATORS: Record<string, { count: number; make: (rnd: Rnd) => Req }> = {
  'malformed JSON': {
    count: 1200,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      const text = JSON.stringify(m);
      const cut = rnd.int(text.length);
      const body = rnd.pick([
        () => text.slice(0, cut),
        () => text.slice(0, cut) + rnd.pick(['"', '{', '}', ',', ':', ']', '\\', '\u0000']) + text.slice(cut),
        () => text.slice(0, cut) + text.slice(cut + 1 + rnd.int(5)),
        () => text.replace(/"/g, "'"),
        () => `${text.slice(0, -1)},}`,
        () => Buffer.from(Array.from({ length: 1 + rnd.int(200) }, () => rnd.int(256))),
        () => `${text}${text}`,
        () => text.replace(/:/, ': NaN, "x":'),
      ])();
      return { ...target(rnd, m), headers: JSON_TYPE, body };
    },
  },
  'malformed YAML': {
    count: 1200,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      const text = stringify(m);
      const cut = rnd.int(text.length);
      const body = rnd.pick([
        () => text.slice(0, cut),
        () =>
          text.slice(0, cut) +
          rnd.pick(['\t', ':', '- ', '"', "'", '[', '{', '\n  ', '%', '!!binary ', '&']) +
          text.slice(cut),
        () => text.replace(/\n {2}/g, '\n\t'),
        () => text.replace(/: /, ': : '),
        () => `%YAML 9.9\n---\n${text}`,
        () => `${text}---\n${text.slice(0, cut)}`,
        () => `!!python/object:os.system [ls]\n${text}`,
      ])();
      return { ...target(rnd, m), headers: YAML_TYPE, body };
    },
  },
  'YAML aliases': {
    count: 600,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      const laughs = (levels: number) => {
        let out = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n';
        for (let i = 1; i < levels; i++)
          out += `a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]\n`;
        return out;
      };
      const body = rnd.pick([
        () => 'a: &a [*a]',
        () => `${stringify(m)}extra: &x [*x]\n`,
        () => laughs(1 + rnd.int(10)),
        () => stringify(m).replace(/\nspec:/, '\nspec: &s\n') + 'copy: *s\n',
        () => `base: &b {port: 80}\nspec:\n  <<: *b\n`,
        () => `kind: *undefined\n`,
        () => `${stringify(m)}---\na: &a [*a]\n`,
      ])();
      return { ...target(rnd, m), headers: YAML_TYPE, body };
    },
  },
  'deep nesting': {
    count: 600,
    make(rnd) {
      const yaml = rnd.next() < 0.5;
      const depth = rnd.size(60, 200_000);
      return {
        method: rnd.pick(['PUT', 'POST']),
        path: rnd.pick(['/v1/resources/Service/shop/deep', '/v1/apply']),
        headers: yaml ? YAML_TYPE : JSON_TYPE,
        body: nested(rnd, depth, yaml),
      };
    },
  },
  'huge strings': {
    count: 800,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      const all = paths(m).filter((p) => p.length > 0);
      const at = rnd.pick(all);
      const length = rnd.size(64, BODY_LIMIT * 1.5);
      const value = rnd.pick([
        () => 'a'.repeat(length),
        () => '\u0000'.repeat(length),
        () => '\ud83d'.repeat(Math.floor(length / 2)),
        () => 'é'.repeat(Math.floor(length / 2)),
      ])();
      const doc = setAt(m, at, value);
      const yaml = rnd.next() < 0.3;
      return {
        ...target(rnd, m),
        headers: yaml ? YAML_TYPE : JSON_TYPE,
        body: yaml ? stringify(doc) : JSON.stringify(doc),
      };
    },
  },
  'wrong types': {
    count: 1500,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      let doc: unknown = m;
      for (let n = 1 + rnd.int(3); n > 0; n--) doc = setAt(doc, rnd.pick(paths(doc)), rnd.pick(ODD_VALUES));
      return { ...target(rnd, m), headers: JSON_TYPE, body: JSON.stringify(doc) };
    },
  },
  quantities: {
    count: 600,
    make(rnd) {
      const region = MANIFESTS.find((r) => r.kind === 'Region')!;
      const q = rnd.pick<unknown>([
        1e308,
        '1e308',
        -1,
        0,
        '0',
        '1e400KiB/s',
        'Infinity',
        '101Gbit/s',
        '100Gbit/s',
        '12500000001',
        '9007199254740993',
        '1.5',
        '1KiB',
        '2TiB',
        '-5MiB/s',
        '1e20h',
      ]);
      const field = rnd.pick(['budget', 'burst']);
      const where = rnd.pick(['link', 'uplink']);
      const doc = setAt(region, ['spec', where, field], q);
      return { method: 'PUT', path: pathOf(region), headers: JSON_TYPE, body: JSON.stringify(doc) };
    },
  },
  'names and paths': {
    count: 1500,
    make(rnd) {
      const seg = () =>
        rnd.pick([
          '',
          '.',
          '..',
          '%',
          '%zz',
          '%00',
          '%2F',
          '%2e%2e',
          'UPPER',
          'a'.repeat(rnd.size(64, 20_000)),
          'ünïcode',
          '%F0%9F%92%A9',
          'a.b',
          '_',
          '-a',
          'a-',
          'shop',
          'payments',
          'Service',
          'Region',
          'Nope',
          '*',
          '$',
          '?',
          '#',
          ';',
        ]);
      const method = rnd.pick(['GET', 'PUT', 'DELETE', 'POST', 'PATCH', 'OPTIONS', 'HEAD']);
      const path = rnd.pick([
        () => `/v1/resources/${seg()}/${seg()}/${seg()}`,
        () => `/v1/resources/${seg()}/${seg()}`,
        () => `/v1/resources/Service/shop/${seg()}/${seg()}`,
        () => `/v1/resources?kind=${seg()}&namespace=${seg()}`,
        () => `/v1/regions/${seg()}`,
        () => `/v1/regions/${seg()}/view`,
        () => `/v1/regions/${seg()}/preview`,
        () => `/v1/apply?dryRun=${seg()}&urgent=${seg()}`,
        () => `/v1/changes?limit=${seg()}&since=${seg()}`,
        () => `//v1//resources//${seg()}`,
        () => `/v1/${seg()}`,
        () => `/${seg()}`,
      ])();
      const m = rnd.pick(MANIFESTS);
      return {
        method,
        path,
        ...(method === 'PUT' || method === 'POST' ? { headers: JSON_TYPE, body: JSON.stringify(m) } : {}),
      };
    },
  },
  headers: {
    count: 800,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      const headers: Record<string, string> = { ...JSON_TYPE };
      const name = rnd.pick([
        'if-match',
        'fedmesh-urgent',
        'authorization',
        'accept',
        'content-encoding',
        'if-none-match',
      ]);
      headers[name] = rnd.pick([
        '',
        '"abc"',
        '-1',
        'W/"1"',
        '"999999999999999999999"',
        '*',
        'maybe',
        'true, false',
        'Bearer ',
        'Basic YWRtaW46YWRtaW4=',
        'gzip',
        'br',
        'x'.repeat(rnd.size(10, 8000)),
        '1,2,3',
      ]);
      return { ...target(rnd, m), headers, body: JSON.stringify(m) };
    },
  },
  'content types': {
    count: 600,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      const type = rnd.pick([
        'text/plain',
        'application/xml',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/yaml; charset=utf-16',
        'application/JSON',
        'application/octet-stream',
        'json',
        '',
        ';;;',
      ]);
      return { ...target(rnd, m), headers: { 'content-type': type }, body: JSON.stringify(m) };
    },
  },
  sizes: {
    count: 1100,
    make(rnd) {
      const m = rnd.pick(MANIFESTS);
      return rnd.pick<() => Req>([
        () => ({ method: 'PUT', path: pathOf(m), headers: JSON_TYPE, body: '' }),
        () => ({ method: 'POST', path: '/v1/apply', headers: YAML_TYPE, body: '' }),
        () => ({ method: 'POST', path: '/v1/apply', headers: YAML_TYPE, body: '---\n---\n' }),
        () => ({ method: 'GET', path: pathOf(m), headers: JSON_TYPE, body: JSON.stringify(m) }),
        () => ({ method: 'DELETE', path: '/v1/resources/Service/shop/none', headers: JSON_TYPE, body: '{' }),
        () => ({
          method: 'PUT',
          path: pathOf(m),
          headers: JSON_TYPE,
          body: JSON.stringify({ ...m, pad: 'x'.repeat(BODY_LIMIT + rnd.int(1000)) }),
        }),
        () => ({
          method: 'POST',
          path: '/v1/apply',
          headers: JSON_TYPE,
          body: JSON.stringify(Array.from({ length: rnd.size(1, 5000) }, () => m)),
        }),
      ])();
    },
  },
};

describe('REST fuzz', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url, { bodyLimit: String(BODY_LIMIT) });
    const api = hubClient(hub.url);
    for (const r of MANIFESTS) {
      const res = await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
      expect(res.status).toBeLessThan(300);
    }
  }, 60_000);

  afterAll(async () => {
    agent.destroy();
    await hub?.stop();
    await nats?.cleanup();
  });

  const send = (req: Req): Promise<{ status: number; body: string }> => {
    const url = new URL(hub.url);
    return new Promise((resolve, reject) => {
      const r = request(
        {
          host: url.hostname,
          port: url.port,
          method: req.method,
          path: req.path,
          headers: req.headers,
          agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
          );
        },
      );
      r.on('error', reject);
      r.end(req.body);
    });
  };

  it('fuzz - 10,500 generated bad requests get no 5xx, and the hub stays alive and writable', async () => {
    printLogsOnFailure(nats);
    const rnd = prng(SEED);
    const cases: { category: string; req: Req }[] = [];
    for (const [category, g] of Object.entries(GENERATORS))
      for (let i = 0; i < g.count; i++) cases.push({ category, req: g.make(rnd) });
    expect(cases.length).toBeGreaterThanOrEqual(10_000);

    const counts = new Map<string, Map<string, number>>();
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const { category, req } = cases[next++]!;
        let res: { status: number; body: string };
        try {
          res = await send(req);
        } catch (err) {
          // The server closing a socket on a request it will not read (a 413) is an answer too.
          res = { status: 0, body: (err as Error).message };
        }
        const byStatus = counts.get(category) ?? new Map<string, number>();
        const key = res.status === 0 ? 'closed' : `${Math.floor(res.status / 100)}xx`;
        byStatus.set(key, (byStatus.get(key) ?? 0) + 1);
        counts.set(category, byStatus);
        if (res.status >= 500 && failures.length < 10)
          failures.push(
            `${category}: ${req.method} ${req.path.slice(0, 120)} -> ${res.status} ${res.body.slice(0, 300)}`,
          );
        else if (res.status >= 400 && res.status < 500 && req.method !== 'HEAD') {
          // Our error body, in our words: a code and a message.
          let ok = false;
          try {
            const e = (JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } }).error;
            ok = typeof e?.code === 'string' && typeof e.message === 'string' && e.message.length > 0;
          } catch {
            ok = false;
          }
          if (!ok && failures.length < 10)
            failures.push(
              `${category}: ${req.method} ${req.path.slice(0, 120)} -> ${res.status} without an error body: ${res.body.slice(0, 200)}`,
            );
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    const table = [...counts].map(([c, m]) => `${c}: ${[...m].map(([s, n]) => `${s} ${n}`).join(', ')}`);
    console.log(`REST fuzz, seed ${SEED.toString(16)}, ${cases.length} requests\n  ${table.join('\n  ')}`);
    expect(failures).toEqual([]);
    const fiveHundreds = [...counts.values()].reduce((n, m) => n + (m.get('5xx') ?? 0), 0);
    expect(fiveHundreds).toBe(0);

    // Alive and writable: health, and a real write that lands.
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    const api = hubClient(hub.url);
    const probe = {
      apiVersion: API_VERSION,
      kind: 'Service',
      metadata: { name: 'after-fuzz', namespace: 'shop' },
      spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }] },
    };
    expect((await api.put('Service', 'shop', 'after-fuzz', probe)).status).toBe(201);
    expect((await api.get('Service', 'shop', 'after-fuzz')).status).toBe(200);
  }, 600_000);
});

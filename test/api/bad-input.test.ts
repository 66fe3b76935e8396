import { request as httpRequest } from 'node:http';
import { API_VERSION, sampleMesh } from '@fedmesh/shared';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, buildTestApi, READER_TOKEN, type TestApi } from './support.js';

/**
 * Whatever a client sends, the API answers 4xx with a message that says what is wrong, never
 * 5xx, never a crash. Most cases go through inject() (fast); hostile URLs also go over a real
 * socket, since Node's HTTP parser and fetch() treat them differently from inject().
 */
let t: TestApi;
let baseUrl: string;
const BODY_LIMIT = 64 * 1024;

beforeAll(async () => {
  t = await buildTestApi({ bodyLimit: BODY_LIMIT });
  baseUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
  for (const r of sampleMesh()) {
    const res = await t.app.inject({ method: 'POST', url: '/v1/resources', headers: auth(), payload: r });
    expect(res.statusCode).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
});

interface Answer {
  status: number;
  body: { error?: { code: string; message: string; issues?: { path: string; message: string }[] } } & Record<
    string,
    unknown
  >;
}

async function send(
  method: string,
  url: string,
  payload?: string | object,
  headers: Record<string, string> = { ...auth(), 'content-type': 'application/json' },
): Promise<Answer> {
  const res = await t.app.inject({
    method: method as 'PUT',
    url,
    headers,
    ...(payload === undefined
      ? {}
      : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) }),
  });
  return { status: res.statusCode, body: parse(res.body) };
}

/** Over a real socket, with the path exactly as given (no URL normalization). */
function raw(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = auth(),
): Promise<Answer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function parse(text: string): Answer['body'] {
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    return { raw: text };
  }
}

/** A client error with a readable message: the one shape every bad request must get. */
function expectClientError(a: Answer, status?: number): void {
  expect(a.status, JSON.stringify(a.body)).toBeGreaterThanOrEqual(400);
  expect(a.status, JSON.stringify(a.body)).toBeLessThan(500);
  if (status !== undefined) expect(a.status, JSON.stringify(a.body)).toBe(status);
  expect(typeof a.body.error?.code, JSON.stringify(a.body)).toBe('string');
  expect(a.body.error?.message?.length).toBeGreaterThan(0);
}

const service = (extra: Record<string, unknown> = {}) => ({
  apiVersion: API_VERSION,
  kind: 'Service',
  metadata: { name: 'probe', namespace: 'shop' },
  spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }] },
  ...extra,
});
const PROBE = '/v1/resources/Service/shop/probe';

describe('malformed bodies', () => {
  it('api - rejects malformed JSON with 400', async () => {
    for (const body of ['{', '{"kind": }', '[1,2', 'nul', '{"a":1}}', '\u0000']) {
      expectClientError(await send('PUT', PROBE, body), 400);
    }
  });

  it('api - rejects an empty JSON body with 400', async () => {
    expectClientError(await send('PUT', PROBE, ''), 400);
  });

  it('api - rejects JSON that is not one manifest (null, number, string, list) with 400', async () => {
    for (const body of ['null', '42', '"text"', '[]', JSON.stringify([service()])]) {
      const a = await send('PUT', PROBE, body);
      expectClientError(a, 400);
    }
  });

  it('api - rejects __proto__ keys (prototype poisoning) with 400', async () => {
    expectClientError(await send('PUT', PROBE, '{"__proto__": {"admin": true}, "kind": "Service"}'), 400);
  });

  it('api - survives deeply nested JSON with a 4xx', async () => {
    const depth = 20_000;
    expectClientError(await send('PUT', PROBE, `${'['.repeat(depth)}${']'.repeat(depth)}`));
    expectClientError(await send('PUT', PROBE, `{"spec":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`));
  });

  it('api - rejects malformed YAML with 400 and says so', async () => {
    const yaml = { ...auth(), 'content-type': 'application/yaml' };
    for (const body of ['kind: [unclosed', 'a: b: c', '\tkind: Service', 'key: "unterminated', '- a\nb: c']) {
      const a = await send('PUT', PROBE, body, yaml);
      expectClientError(a, 400);
    }
    const a = await send('PUT', PROBE, 'kind: [unclosed', yaml);
    expect(a.body.error?.message).toMatch(/YAML/);
  });

  it('api - refuses a YAML alias bomb instead of expanding it', async () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 12; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const a = await send('POST', '/v1/apply', lines.join('\n'), {
      ...auth(),
      'content-type': 'application/yaml',
    });
    expectClientError(a, 400);
  });
});

describe('wrong content', () => {
  it('api - rejects an unknown field and names its path', async () => {
    const a = await send('PUT', PROBE, {
      ...service(),
      spec: { ports: [{ name: 'http', port: 8080, protocol: 'http', colour: 'red' }] },
    });
    expectClientError(a, 400);
    expect(a.body.error?.issues).toContainEqual({ path: 'spec.ports.0.colour', message: 'unknown field' });
    expect(a.body.error?.message).toContain('spec.ports.0.colour');
    const top = await send('PUT', PROBE, service({ status: {} }));
    expect(top.body.error?.issues?.map((i) => i.path)).toEqual(['status']);
  });

  it('api - rejects wrong types and names the field', async () => {
    const cases: [unknown, string][] = [
      [{ ports: [{ name: 'http', port: '8080', protocol: 'http' }] }, 'spec.ports.0.port'],
      [{ ports: [{ name: 'http', port: 70000, protocol: 'http' }] }, 'spec.ports.0.port'],
      [{ ports: [{ name: 'http', port: 8080, protocol: 'smtp' }] }, 'spec.ports.0.protocol'],
      [{ ports: 'http' }, 'spec.ports'],
      [{ ports: [{ name: 'http', port: 8080, protocol: 'http' }], exportTo: 'eu-west' }, 'spec.exportTo'],
    ];
    for (const [spec, path] of cases) {
      const a = await send('PUT', PROBE, service({ spec }));
      expectClientError(a, 400);
      expect(a.body.error?.issues?.map((i) => i.path)).toContain(path);
    }
  });

  it('api - rejects unknown kinds in the path and in the body, listing the valid ones', async () => {
    const inPath = await send('PUT', '/v1/resources/Gateway/shop/probe', service());
    expectClientError(inPath, 400);
    expect(inPath.body.error?.message).toMatch(/unknown kind "Gateway".*Region, Service/);
    const inBody = await send('POST', '/v1/resources', service({ kind: 'Gateway' }));
    expectClientError(inBody, 400);
    expect(inBody.body.error?.issues?.[0]?.path).toBe('kind');
    expectClientError(await send('GET', '/v1/resources?kind=Gateway'), 400);
  });

  it('api - rejects a manifest that disagrees with its URL, naming the field', async () => {
    const a = await send('PUT', '/v1/resources/Service/shop/other', service());
    expectClientError(a, 400);
    expect(a.body.error?.issues?.map((i) => i.path)).toEqual(['metadata.name']);
    const ns = await send('PUT', '/v1/resources/Service/prod/probe', service());
    expect(ns.body.error?.issues?.map((i) => i.path)).toEqual(['metadata.namespace']);
  });

  it('api - rejects malformed preconditions and query parameters, naming them', async () => {
    const bad = async (a: Promise<Answer>, path: string) => {
      const r = await a;
      expectClientError(r, 400);
      expect(r.body.error?.issues?.[0]?.path).toBe(path);
    };
    await bad(
      send('PUT', PROBE, service(), {
        ...auth(),
        'content-type': 'application/json',
        'if-match': 'yesterday',
      }),
      'If-Match',
    );
    await bad(
      send('PUT', PROBE, service(), { ...auth(), 'content-type': 'application/json', 'if-match': '"-1"' }),
      'If-Match',
    );
    await bad(
      send('PUT', PROBE, service(), {
        ...auth(),
        'content-type': 'application/json',
        'if-none-match': '"3"',
      }),
      'If-None-Match',
    );
    await bad(
      send('PUT', PROBE, service({ metadata: { name: 'probe', namespace: 'shop', revision: -1 } })),
      'metadata.revision',
    );
    await bad(send('GET', '/v1/changes?since=-1'), 'since');
    await bad(send('GET', '/v1/changes?limit=0'), 'limit');
    await bad(send('GET', '/v1/changes?limit=100000'), 'limit');
    await bad(send('GET', '/v1/changes?since=1&since=2'), 'since');
    await bad(send('POST', '/v1/apply?dryRun=maybe', [service()]), 'dryRun');
    await bad(send('GET', '/v1/resources?namespace=UPPER'), 'namespace');
  });

  it('api - apply rejects bodies that hold no manifests, and each bad document separately', async () => {
    expectClientError(await send('POST', '/v1/apply', []), 400);
    expectClientError(await send('POST', '/v1/apply', '"text"'), 400);
    expectClientError(await send('POST', '/v1/apply', { kind: 'Service', items: [] }), 400);
    const a = await send('POST', '/v1/apply', [1, null, 'x', [], service({ kind: 'Nope' })]);
    expectClientError(a, 400);
    expect((a.body.items as { result: string }[]).map((i) => i.result)).toEqual([
      'invalid',
      'invalid',
      'invalid',
      'invalid',
      'invalid',
    ]);
  });
});

describe('sizes and types', () => {
  it('api - refuses a body over the limit with 413', async () => {
    const huge = service({
      metadata: { name: 'probe', namespace: 'shop', annotations: { a: 'x'.repeat(BODY_LIMIT) } },
    });
    const a = await send('PUT', PROBE, huge);
    expectClientError(a, 413);
    expect(a.body.error?.code).toBe('payload_too_large');
    expectClientError(await raw('PUT', PROBE, JSON.stringify(huge)), 413);
  });

  it('api - apply takes a bundle larger than one resource, but no document over the limit', async () => {
    const big = {
      ...service(),
      metadata: { name: 'big', namespace: 'shop', annotations: { a: 'x'.repeat(BODY_LIMIT) } },
    };
    const a = await send('POST', '/v1/apply', [big]);
    expectClientError(a, 400);
    expect((a.body.items as { message: string }[])[0]!.message).toBe('too large');
    expectClientError(await send('POST', '/v1/apply', 'x'.repeat(BODY_LIMIT * 17)), 413);
  });

  it('api - refuses unsupported content types with 415', async () => {
    for (const type of [
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
    ]) {
      const a = await send('PUT', PROBE, JSON.stringify(service()), { ...auth(), 'content-type': type });
      expectClientError(a, 415);
    }
  });
});

describe('hostile names', () => {
  const names = [
    '..%2F..%2Fetc%2Fpasswd',
    '..%2F',
    '%2e%2e',
    '..',
    'a.b',
    'UPPER',
    '%D0%BF%D1%80%D0%B8%D0%BC%D0%B5%D1%80', // пример
    '%F0%9F%92%A5',
    'x'.repeat(300),
    '-leading',
    'a%00b',
    '%20',
    '*',
    '>',
    'svc.shop',
  ];

  it('api - refuses invalid and hostile names in the path with 400 naming the segment (inject)', async () => {
    for (const name of names) {
      for (const method of ['GET', 'PUT', 'DELETE']) {
        const a = await send(
          method,
          `/v1/resources/Service/shop/${name}`,
          method === 'PUT' ? service() : undefined,
        );
        // A bare `..` (or `%2e%2e`) is resolved away by URL parsing before routing (404); all else must name the segment.
        const dots = name === '..' || name === '%2e%2e';
        expectClientError(a, dots ? 404 : 400);
        if (!dots)
          expect(a.body.error?.issues?.[0]?.path, `${method} ${name}: ${JSON.stringify(a.body)}`).toBe(
            'name',
          );
      }
      // Some of these do not even reach the route (an encoded slash), which is a 404: still a 4xx.
      expectClientError(await send('GET', `/v1/resources/Service/${name}/probe`));
    }
  });

  it('api - refuses hostile paths over a real socket without a 5xx', async () => {
    const paths = [
      ...names.map((n) => `/v1/resources/Service/shop/${n}`),
      '/v1/resources/Service/shop/../../../etc/passwd',
      '/v1/resources/Service/shop/%E0%A4%A',
      '/v1/resources/Service/shop/%',
      '/v1/resources/Service//probe',
      '/v1/resources/Region/../Region/_/eu-west',
      `/v1/resources/Service/shop/${'a'.repeat(5000)}`,
      '/v1/resources/Service/shop/probe/history/../../x',
    ];
    for (const p of paths) {
      const a = await raw('GET', p);
      expect(a.status, `${p}: ${JSON.stringify(a.body)}`).toBeLessThan(500);
      expectClientError(a);
    }
  });

  it('api - refuses invalid and hostile names inside a manifest, naming the field', async () => {
    for (const name of ['../etc', 'UPPER', 'пример', 'x'.repeat(300), '', 'a.b']) {
      const a = await send('POST', '/v1/resources', service({ metadata: { name, namespace: 'shop' } }));
      expectClientError(a, 400);
      expect(a.body.error?.issues?.[0]?.path).toBe('metadata.name');
    }
  });
});

describe('authentication', () => {
  it('api - refuses a missing, malformed or wrong token with 401', async () => {
    const json = { 'content-type': 'application/json' };
    expectClientError(await send('GET', PROBE, undefined, {}), 401);
    expectClientError(await send('GET', PROBE, undefined, { authorization: 'Basic YWRtaW46YWRtaW4=' }), 401);
    expectClientError(await send('GET', PROBE, undefined, { authorization: 'Bearer' }), 401);
    expectClientError(
      await send('GET', PROBE, undefined, { authorization: 'Bearer wrong-token-0123456789abcdef' }),
      401,
    );
    expectClientError(await send('PUT', PROBE, service(), { ...json, authorization: 'Bearer ' }), 401);
    expectClientError(await raw('GET', PROBE, undefined, {}), 401);
  });

  it('api - refuses every write from a read-only token with 403 but lets it read', async () => {
    const reader = { ...auth(READER_TOKEN), 'content-type': 'application/json' };
    expectClientError(await send('PUT', PROBE, service(), reader), 403);
    expectClientError(await send('POST', '/v1/resources', service(), reader), 403);
    expectClientError(await send('DELETE', '/v1/resources/Region/_/eu-west', undefined, reader), 403);
    expectClientError(await send('POST', '/v1/apply', [service()], reader), 403);
    expect((await send('GET', '/v1/resources/Region/_/eu-west', undefined, reader)).status).toBe(200);
    expect((await send('GET', '/v1/changes', undefined, reader)).status).toBe(200);
  });

  it('api - leaves health, metrics and the OpenAPI document open', async () => {
    for (const url of ['/healthz', '/metrics', '/openapi.json']) {
      expect((await t.app.inject({ method: 'GET', url })).statusCode).toBe(200);
    }
  });
});

describe('random invalid manifests', () => {
  const base = sampleMesh();
  const STRICT_OBJECT_PATHS = [[], ['metadata'], ['spec']] as const;

  /** A valid manifest with one thing made wrong: an unknown field, a wrong type, a missing field. */
  const invalidManifest = fc.oneof(
    fc
      .record({
        doc: fc.constantFrom(...base),
        at: fc.constantFrom(...STRICT_OBJECT_PATHS),
        key: fc
          .string({ minLength: 1, maxLength: 20 })
          .filter(
            (k) =>
              ![
                'apiVersion',
                'kind',
                'metadata',
                'spec',
                'name',
                'namespace',
                'labels',
                'annotations',
              ].includes(k) &&
              !/^(ports|exportTo|dependsOn|service|region|endpoints|rules|failover|subsets|loadBalancer|circuitBreaker|outlierDetection|action|link|uplink|gateway|__proto__|constructor|toString|valueOf)$/.test(
                k,
              ),
          ),
        value: fc.jsonValue(),
      })
      .map(({ doc, at, key, value }) => {
        const copy = structuredClone(doc) as unknown as Record<string, Record<string, unknown>>;
        const target = at.length === 0 ? (copy as Record<string, unknown>) : copy[at[0]!]!;
        target[key] = value;
        return { body: copy as unknown, path: [...at, key].join('.') };
      }),
    fc
      .record({
        doc: fc.constantFrom(...base),
        field: fc.constantFrom('apiVersion', 'kind', 'metadata', 'spec'),
        value: fc.oneof(
          fc.integer(),
          fc.boolean(),
          fc.constant(null),
          fc.array(fc.integer(), { maxLength: 3 }),
          fc.string({ maxLength: 5 }),
        ),
      })
      .map(({ doc, field, value }) => ({
        body: { ...structuredClone(doc), [field]: value } as unknown,
        path: undefined,
      })),
    fc
      .record({
        doc: fc.constantFrom(...base),
        field: fc.constantFrom('apiVersion', 'kind', 'metadata', 'spec'),
      })
      .map(({ doc, field }) => {
        const copy = structuredClone(doc) as unknown as Record<string, unknown>;
        delete copy[field];
        return { body: copy as unknown, path: undefined };
      }),
    fc.anything({ maxDepth: 3 }).map((body) => ({ body, path: undefined })),
  );

  it('api - random invalid manifests always get a 4xx that names the problem (inject)', async () => {
    await fc.assert(
      fc.asyncProperty(invalidManifest, async ({ body, path }) => {
        let text: string;
        try {
          text = JSON.stringify(body) ?? 'null';
        } catch {
          return; // not expressible as JSON (e.g. a bigint): a client could not send it
        }
        const a = await send('POST', '/v1/resources', text);
        expectClientError(a);
        if (path) expect(a.body.error?.issues?.map((i) => i.path)).toContain(path);
        const applied = await send('POST', '/v1/apply', `[${text}]`);
        expectClientError(applied);
      }),
      { numRuns: 300 },
    );
    // Nothing invalid got in.
    expect(await t.store.list()).toHaveLength(base.length);
  });

  it('api - random invalid manifests over a real socket get a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(invalidManifest, async ({ body }) => {
        let text: string;
        try {
          text = JSON.stringify(body) ?? 'null';
        } catch {
          return;
        }
        expectClientError(await raw('POST', '/v1/resources', text));
      }),
      { numRuns: 30 },
    );
  });
});

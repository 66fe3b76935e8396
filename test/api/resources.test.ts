import { API_VERSION, sampleMesh } from '@fedmesh/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { auth, buildTestApi, READER_TOKEN, type TestApi } from './support.js';

let t: TestApi;
beforeEach(async () => {
  t = await buildTestApi();
});
afterEach(async () => {
  await t.close();
});

const service = (name: string, port = 8080) => ({
  apiVersion: API_VERSION,
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: { ports: [{ name: 'http', port, protocol: 'http' }] },
});
const reverseKeys = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(reverseKeys)
    : v && typeof v === 'object'
      ? Object.fromEntries(
          Object.entries(v)
            .reverse()
            .map(([k, x]) => [k, reverseKeys(x)]),
        )
      : v;
const path = (name: string) => `/v1/resources/Service/shop/${name}`;

async function req(
  method: 'GET' | 'PUT' | 'POST' | 'DELETE',
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await t.app.inject({
    method,
    url,
    headers: { ...auth(), ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: res.statusCode, headers: res.headers, body: res.body ? JSON.parse(res.body) : undefined };
}

describe('resources', () => {
  it('api - put creates (201), a second put updates (200), get returns it with ETag = revision', async () => {
    const created = await req('PUT', path('a'), service('a'));
    expect(created.status).toBe(201);
    const rev = Number(JSON.parse(created.headers.etag as string));
    expect(created.body.metadata.revision).toBe(rev);
    const updated = await req('PUT', path('a'), service('a', 81));
    expect(updated.status).toBe(200);
    const got = await req('GET', path('a'));
    expect(got.status).toBe(200);
    expect(got.headers.etag).toBe(updated.headers.etag);
    expect(got.body.spec.ports[0].port).toBe(81);
  });

  it('api - a put identical to what is stored writes nothing and keeps the revision', async () => {
    const first = await req('PUT', path('a'), service('a'));
    const again = await req('PUT', path('a'), service('a'));
    expect(again.status).toBe(200);
    expect(again.headers.etag).toBe(first.headers.etag);
    expect(await t.store.revision()).toBe(Number(JSON.parse(first.headers.etag as string)));
  });

  it('api - If-Match with a stale revision is refused with 412 and the current revision', async () => {
    const created = await req('PUT', path('a'), service('a'));
    const etag = created.headers.etag as string;
    expect((await req('PUT', path('a'), service('a', 81), { 'if-match': etag })).status).toBe(200);
    const stale = await req('PUT', path('a'), service('a', 82), { 'if-match': etag });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('revision_mismatch');
    expect(stale.body.error.details.currentRevision).toBeGreaterThan(Number(JSON.parse(etag)));
    expect((await req('PUT', path('nope'), service('nope'), { 'if-match': '"1"' })).status).toBe(412);
  });

  it('api - metadata.revision from a get is used as the expected revision', async () => {
    await req('PUT', path('a'), service('a'));
    const got = await req('GET', path('a'));
    await req('PUT', path('a'), service('a', 81));
    const stale = await req('PUT', path('a'), {
      ...got.body,
      spec: { ...got.body.spec, exportTo: ['eu-west'] },
    });
    expect(stale.status).toBe(412);
  });

  it('api - creating what exists is refused with 409, by If-None-Match: * and by POST', async () => {
    expect((await req('PUT', path('a'), service('a'), { 'if-none-match': '*' })).status).toBe(201);
    const again = await req('PUT', path('a'), service('a', 81), { 'if-none-match': '*' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_exists');
    const posted = await req('POST', '/v1/resources', service('b'));
    expect(posted.status).toBe(201);
    expect(posted.headers.location).toBe(path('b'));
    expect((await req('POST', '/v1/resources', service('b'))).status).toBe(409);
  });

  it('api - ?urgent takes true or false, and anything else is a 400 naming it', async () => {
    expect((await req('PUT', `${path('a')}?urgent=true`, service('a'))).status).toBe(201);
    expect((await req('PUT', `${path('a')}?urgent=0`, service('a', 81))).status).toBe(200);
    expect((await req('PUT', path('a'), service('a', 82), { 'fedmesh-urgent': 'true' })).status).toBe(200);
    const bad = await req('PUT', `${path('a')}?urgent=soon`, service('a', 83));
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toEqual([{ path: 'urgent', message: 'must be true or false' }]);
    const badHeader = await req('DELETE', path('a'), undefined, { 'fedmesh-urgent': 'yes' });
    expect(badHeader.status).toBe(400);
    expect(badHeader.body.error.issues[0].path).toBe('Fedmesh-Urgent');
    expect((await req('GET', path('a'))).body.spec.ports[0].port, 'nothing was written').toBe(82);
  });

  it('api - delete removes, a second delete is 404, a stale If-Match is 412', async () => {
    const created = await req('PUT', path('a'), service('a'));
    await req('PUT', path('a'), service('a', 81));
    expect(
      (await req('DELETE', path('a'), undefined, { 'if-match': created.headers.etag as string })).status,
    ).toBe(412);
    const del = await req('DELETE', path('a'));
    expect(del.status).toBe(200);
    expect(del.body.deleted).toEqual({ kind: 'Service', namespace: 'shop', name: 'a' });
    expect((await req('DELETE', path('a'))).status).toBe(404);
    expect((await req('GET', path('a'))).status).toBe(404);
  });

  it('api - lists by kind and namespace', async () => {
    await req('POST', '/v1/apply', sampleMesh());
    const regions = await req('GET', '/v1/resources?kind=Region');
    expect(regions.body.items.map((r: { metadata: { name: string } }) => r.metadata.name)).toEqual([
      'ap-south',
      'eu-west',
      'us-east',
    ]);
    const shop = await req('GET', '/v1/resources?namespace=shop');
    expect(shop.body.items).toHaveLength(sampleMesh().length - 3);
    expect((await req('GET', '/v1/resources?namespace=empty')).body.items).toEqual([]);
  });

  it('api - a reference to a service that does not exist names the field', async () => {
    const res = await req('PUT', '/v1/resources/ServiceEndpoints/shop/x', {
      apiVersion: API_VERSION,
      kind: 'ServiceEndpoints',
      metadata: { name: 'x', namespace: 'shop' },
      spec: { service: 'ghost', region: 'eu-west', endpoints: [] },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.issues.map((i: { path: string }) => i.path)).toEqual([
      'spec.service',
      'spec.region',
    ]);
  });

  it('api - accepts YAML bodies', async () => {
    const res = await t.app.inject({
      method: 'PUT',
      url: path('a'),
      headers: { ...auth(), 'content-type': 'application/yaml' },
      payload: stringify(service('a')),
    });
    expect(res.statusCode).toBe(201);
  });
});

describe('apply', () => {
  it('api - apply creates a mesh in dependency order whatever the document order', async () => {
    const docs = sampleMesh().reverse();
    const res = await req('POST', '/v1/apply', docs);
    expect(res.status).toBe(200);
    expect(res.body.summary.created).toBe(docs.length);
    // Results come back in document order; revisions follow dependency order.
    expect(res.body.items.map((i: { index: number }) => i.index)).toEqual(docs.map((_, i) => i));
    const rev = (kind: string) =>
      Math.min(
        ...res.body.items
          .filter((i: { kind: string }) => i.kind === kind)
          .map((i: { revision: number }) => i.revision),
      );
    expect(rev('Region')).toBeLessThan(rev('Service'));
    expect(rev('TrafficPolicy')).toBeLessThan(rev('TrafficRoute'));
  });

  it('api - a second apply of the same documents reports all unchanged and writes nothing', async () => {
    await req('POST', '/v1/apply', sampleMesh());
    const before = await t.store.revision();
    // Key order and YAML instead of JSON do not count as changes.
    const yaml = sampleMesh()
      .map((r) => stringify(reverseKeys(r)))
      .join('---\n');
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/apply',
      headers: { ...auth(), 'content-type': 'application/yaml' },
      payload: yaml,
    });
    const body = JSON.parse(res.body);
    expect(res.statusCode).toBe(200);
    expect(body.summary.unchanged).toBe(sampleMesh().length);
    expect(await t.store.revision()).toBe(before);
  });

  it('api - accepts a List with items', async () => {
    const res = await req('POST', '/v1/apply', { kind: 'List', items: sampleMesh().slice(0, 3) });
    expect(res.status).toBe(200);
    expect(res.body.summary.created).toBe(3);
  });

  it('api - apply validates against the batch and writes nothing when one document is invalid', async () => {
    const docs: unknown[] = sampleMesh();
    docs.push({
      ...service('broken'),
      spec: { ports: [{ name: 'http', port: 'eighty', protocol: 'http' }] },
    });
    const res = await req('POST', '/v1/apply', docs);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/1 of 14 documents are invalid; nothing was applied/);
    const bad = res.body.items[13];
    expect(bad).toMatchObject({ result: 'invalid', kind: 'Service', name: 'broken' });
    expect(bad.issues[0].path).toBe('spec.ports.0.port');
    expect(res.body.items[0].result).toBe('skipped');
    expect(await t.store.revision()).toBe(0);
  });

  it('api - a dry run returns the diff against the store and changes nothing', async () => {
    await req('POST', '/v1/apply', sampleMesh());
    const before = await t.store.revision();
    const docs = sampleMesh();
    (docs[3]!.spec as { ports: { port: number }[] }).ports[0]!.port = 8081;
    docs.push(service('newcomer') as never);
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/apply?dryRun=true',
      headers: auth(READER_TOKEN),
      payload: docs,
    });
    const body = JSON.parse(res.body);
    expect(res.statusCode).toBe(200);
    expect(body.dryRun).toBe(true);
    expect(body.summary).toMatchObject({ updated: 1, created: 1, unchanged: docs.length - 2 });
    expect(body.items[3].patch).toEqual([{ op: 'replace', path: '/spec/ports/0/port', value: 8081 }]);
    expect(body.items[3].diff).toEqual(['~ /spec/ports/0/port: 8080 → 8081']);
    expect(body.items.at(-1).result).toBe('created');
    expect(body.items.at(-1).diff).toContain('+ /kind: "Service"');
    expect(await t.store.revision()).toBe(before);
  });

  it('api - a read-only token may dry-run but not apply', async () => {
    const wet = await t.app.inject({
      method: 'POST',
      url: '/v1/apply',
      headers: auth(READER_TOKEN),
      payload: sampleMesh(),
    });
    expect(wet.statusCode).toBe(403);
    const tricky = await t.app.inject({
      method: 'POST',
      url: '/v1/apply?dryRun=true&dryRun=false',
      headers: auth(READER_TOKEN),
      payload: sampleMesh(),
    });
    expect(tricky.statusCode).toBe(403);
    const put = await t.app.inject({
      method: 'PUT',
      url: `${path('a')}?dryRun=true`,
      headers: auth(READER_TOKEN),
      payload: service('a'),
    });
    expect(put.statusCode).toBe(403);
  });

  it('api - a stale metadata.revision in an applied document is a conflict', async () => {
    await req('PUT', path('a'), service('a'));
    const stale = { ...service('a', 90), metadata: { name: 'a', namespace: 'shop', revision: 999 } };
    const res = await req('POST', '/v1/apply', [stale]);
    expect(res.status).toBe(409);
    expect(res.body.items[0].result).toBe('conflict');
  });

  it('api - duplicate documents in one apply are invalid', async () => {
    const res = await req('POST', '/v1/apply', [service('a'), service('a', 81)]);
    expect(res.status).toBe(400);
    expect(res.body.items[1].issues[0].message).toBe('duplicates document 0');
  });
});

describe('history and audit', () => {
  it('api - history lists every write of a resource with its actor', async () => {
    await req('PUT', path('a'), service('a'));
    await req('PUT', path('a'), service('a', 81));
    await req('DELETE', path('a'));
    const h = await req('GET', `${path('a')}/history`);
    expect(h.status).toBe(200);
    expect(h.body.items.map((i: { op: string; actor: string }) => [i.op, i.actor])).toEqual([
      ['put', 'alice'],
      ['put', 'alice'],
      ['delete', 'alice'],
    ]);
    expect((await req('GET', `${path('never')}/history`)).status).toBe(404);
  });

  it('api - the audit log pages by revision and names actor, resource and operation', async () => {
    await req('PUT', path('a'), service('a'));
    await req('PUT', path('a'), service('a', 81));
    await req('DELETE', path('a'));
    const page1 = await req('GET', '/v1/changes?limit=2');
    expect(page1.body.items.map((e: { op: string }) => e.op)).toEqual(['create', 'update']);
    expect(page1.body.items[0]).toMatchObject({
      actor: 'alice',
      role: 'admin',
      kind: 'Service',
      namespace: 'shop',
      name: 'a',
    });
    expect(typeof page1.body.items[0].time).toBe('string');
    const page2 = await req('GET', `/v1/changes?since=${page1.body.next}`);
    expect(page2.body.items.map((e: { op: string }) => e.op)).toEqual(['delete']);
    const page3 = await req('GET', `/v1/changes?since=${page2.body.next}`);
    expect(page3.body).toEqual({ items: [], next: page2.body.next });
  });

  it("api - history says create/update/delete in the audit log's words next to the store's put/delete", async () => {
    await req('PUT', path('a'), service('a'));
    await req('PUT', path('a'), service('a', 81));
    await req('DELETE', path('a'));
    await req('PUT', path('a'), service('a'));
    const h = await req('GET', `${path('a')}/history`);
    expect(h.body.items.map((i: { op: string; action: string }) => [i.op, i.action])).toEqual([
      ['put', 'create'],
      ['put', 'update'],
      ['delete', 'delete'],
      ['put', 'create'],
    ]);
  });

  it('api - order=desc gives the newest entries, newest first, and next to follow on from', async () => {
    for (const name of ['a', 'b', 'c', 'd']) await req('PUT', path(name), service(name));
    const newest = await req('GET', '/v1/changes?limit=2&order=desc');
    expect(newest.status).toBe(200);
    expect(newest.body.items.map((e: { name: string }) => e.name)).toEqual(['d', 'c']);
    expect(newest.body.next).toBe(newest.body.items[0].revision);
    expect((await req('GET', `/v1/changes?since=${newest.body.next}`)).body.items).toEqual([]);
    await req('PUT', path('e'), service('e'));
    const after = await req('GET', `/v1/changes?since=${newest.body.next}`);
    expect(after.body.items.map((e: { name: string }) => e.name)).toEqual(['e']);
    const oldest = await req('GET', '/v1/changes?limit=2&order=asc');
    expect(oldest.body.items.map((e: { name: string }) => e.name)).toEqual(['a', 'b']);
    const bad = await req('GET', '/v1/changes?order=newest');
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toEqual([
      { path: 'order', message: 'must be "asc" (oldest first) or "desc" (newest first)' },
    ]);
  });

  it('api - unchanged writes leave no audit entry', async () => {
    await req('POST', '/v1/apply', sampleMesh());
    await req('POST', '/v1/apply', sampleMesh());
    expect((await req('GET', '/v1/changes?limit=1000')).body.items).toHaveLength(sampleMesh().length);
  });
});

describe('warnings', () => {
  const calling = (name: string, spec: Record<string, unknown>) => ({
    ...service(name),
    spec: { ...service(name).spec, ...spec },
  });

  it('api - a put with a dependsOn on a missing service or an exportTo to a missing region is written, with Warning headers', async () => {
    const res = await req(
      'PUT',
      path('front'),
      calling('front', { dependsOn: ['ledger'], exportTo: ['mars'] }),
    );
    expect(res.status).toBe(201);
    expect(res.body.spec.dependsOn).toEqual(['ledger']);
    expect(Object.keys(res.body)).not.toContain('warnings');
    expect(res.headers.warning).toEqual([
      '299 - "spec.dependsOn.0: Service shop/ledger does not exist (yet): calls to it do not resolve until it is created"',
      '299 - "spec.exportTo.0: Region mars does not exist (yet): the service reaches no region of that name"',
    ]);
    await req('PUT', path('ledger'), service('ledger'));
    const again = await req('PUT', path('front'), calling('front', { dependsOn: ['ledger'] }));
    expect(again.status).toBe(200);
    expect(again.headers.warning).toBeUndefined();
  });

  it('api - apply reports warnings per document, also on a dry run, and none for targets in the same request', async () => {
    const docs = [calling('front', { dependsOn: ['ledger', 'cart'] }), service('cart')];
    for (const dryRun of [true, false]) {
      const res = await req('POST', `/v1/apply${dryRun ? '?dryRun=true' : ''}`, docs);
      expect(res.status).toBe(200);
      expect(res.body.items[0].warnings).toEqual([
        { path: 'spec.dependsOn.0', message: expect.stringMatching(/^Service shop\/ledger does not exist/) },
      ]);
      expect(res.body.items[1].warnings).toBeUndefined();
    }
    expect((await req('GET', path('front'))).status).toBe(200);
  });
});

describe('metrics', () => {
  it('api - metrics count requests by route pattern and status, and store operations', async () => {
    await req('PUT', path('a'), service('a'));
    await req('GET', path('a'));
    await req('GET', path('missing'));
    await req('GET', '/v1/no/such/route');
    const text = (await t.app.inject({ method: 'GET', url: '/metrics' })).body;
    const line = (re: RegExp) => text.split('\n').find((l) => re.test(l));
    expect(
      line(
        /^fedmesh_hub_http_requests_total\{method="PUT",route="\/v1\/resources\/:kind\/:namespace\/:name",status="201"\} 1$/,
      ),
    ).toBeDefined();
    expect(
      line(
        /^fedmesh_hub_http_requests_total\{method="GET",route="\/v1\/resources\/:kind\/:namespace\/:name",status="200"\} 1$/,
      ),
    ).toBeDefined();
    expect(
      line(
        /^fedmesh_hub_http_requests_total\{method="GET",route="\/v1\/resources\/:kind\/:namespace\/:name",status="404"\} 1$/,
      ),
    ).toBeDefined();
    expect(
      line(/^fedmesh_hub_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/),
    ).toBeDefined();
    expect(
      line(
        /^fedmesh_hub_http_request_duration_seconds_count\{method="GET",route="\/v1\/resources\/:kind\/:namespace\/:name"\} 2$/,
      ),
    ).toBeDefined();
    expect(line(/^fedmesh_hub_store_operations_total\{op="create",result="ok"\} 1$/)).toBeDefined();
    expect(line(/^fedmesh_hub_store_operations_total\{op="get",result="ok"\} 3$/)).toBeDefined();
    expect(line(/^fedmesh_hub_store_operations_total\{op="audit_append",result="ok"\} 1$/)).toBeDefined();
    expect(line(/^fedmesh_hub_store_operation_seconds_count\{op="get"\} 3$/)).toBeDefined();
    // Raw URLs never become label values.
    expect(text).not.toContain('missing');
    expect(text).not.toContain('/v1/no/such/route');
  });

  it('api - authentication off records the actor as anonymous', async () => {
    const open = await buildTestApi({ tokens: new Map() });
    try {
      await open.app.inject({ method: 'PUT', url: path('a'), payload: service('a') });
      const res = await open.app.inject({ method: 'GET', url: '/v1/changes' });
      expect(JSON.parse(res.body).items[0].actor).toBe('anonymous');
    } finally {
      await open.close();
    }
  });
});

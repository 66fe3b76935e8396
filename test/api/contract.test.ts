import SwaggerParser from '@apidevtools/swagger-parser';
import { AgentStatusReport, API_VERSION, ProxyReport, sampleMesh } from '@fedmesh/shared';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusIntake } from '../../hub/src/regions/status.js';
import { auth, buildTestApi, READER_TOKEN, type TestApi } from './support.js';

/**
 * The generated document against what the server really answers: every request below is
 * checked against the schema the document declares for its path, method and status, so a field
 * the serializer would drop or a status the document forgets fails here.
 */

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';
// biome-ignore lint/suspicious/noExplicitAny: a dereferenced OpenAPI document explored by path
type Doc = Record<string, any>;

const report = AgentStatusReport.parse({
  region: 'eu-west',
  agentId: 'agent-1',
  version: 1,
  hash: 'f'.repeat(64),
  proxies: 1,
  acceptedCodecs: ['br', 'gzip'],
  budgetBytesPerSecond: 65536,
  burstBytes: 131072,
  receiveRate: 100,
  utilization: 0.01,
  streamSeq: 1,
  queuedMessages: 0,
  spool: { toVersion: 3, chunks: 1, count: 2 },
  lastError: 'hash mismatch at version 2',
  sentAt: new Date().toISOString(),
});
const proxy = ProxyReport.parse({
  node: 'node-1',
  client: 'envoy',
  protocol: 'sotw',
  connectedAt: new Date().toISOString(),
  acked: { 'type.googleapis.com/envoy.config.listener.v3.Listener': '1' },
  nacks: 1,
  lastNack: { typeUrl: 'type.googleapis.com/x', version: '1', reason: 'bad', at: new Date().toISOString() },
});
const status: StatusIntake = {
  get: (region) =>
    region === 'eu-west'
      ? { report, receivedAt: new Date(), proxies: { items: [proxy], receivedAt: new Date() } }
      : undefined,
  onReport: () => undefined,
  close: () => undefined,
};

let t: TestApi;
let doc: Doc;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
const compiled = new Map<string, ValidateFunction>();
const checked = new Set<string>();

beforeAll(async () => {
  t = await buildTestApi({ status });
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  doc = (await SwaggerParser.dereference(JSON.parse(res.body))) as Doc;
  for (const r of sampleMesh()) {
    const put = await call(
      'PUT',
      `/v1/resources/${r.kind}/${r.metadata.namespace ?? '_'}/${r.metadata.name}`,
      r,
    );
    expect(put.statusCode, put.body).toBeLessThan(300);
  }
  await t.engine.flush();
});
afterAll(async () => {
  await t?.close();
});

async function call(
  method: Method,
  url: string,
  payload?: unknown,
  headers: Record<string, string> = auth(),
): Promise<LightMyRequestResponse> {
  return t.app.inject({
    method,
    url,
    headers,
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

/** The response must have a status the document lists, and a body its schema accepts. */
function conforms(res: LightMyRequestResponse, method: Method, template: string): void {
  const op = doc.paths[template]?.[method.toLowerCase()];
  expect(op, `${method} ${template} is in the document`).toBeDefined();
  const declared = op.responses[String(res.statusCode)];
  expect(declared, `${method} ${template} documents status ${res.statusCode}: ${res.body}`).toBeDefined();
  const type = String(res.headers['content-type'] ?? '').split(';')[0]!;
  const key = `${method} ${template} ${res.statusCode}`;
  checked.add(key);
  if (type !== 'application/json') {
    expect(Object.keys(declared.content ?? {})).toContain(type);
    return;
  }
  const schema = declared.content?.['application/json']?.schema;
  expect(schema, `${key} declares a JSON body`).toBeDefined();
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(key, validate);
  }
  const body = JSON.parse(res.body);
  expect(validate(body), `${key}: ${ajv.errorsText(validate.errors)}\n${res.body.slice(0, 2000)}`).toBe(true);
}

const payments = {
  apiVersion: API_VERSION,
  kind: 'Service',
  metadata: { name: 'contract', namespace: 'shop' },
  spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }], dependsOn: ['nowhere'] },
};

describe('api contract', () => {
  it('contract - probes, metrics, the document and the operator page match the document', async () => {
    for (const url of [
      '/healthz',
      '/livez',
      '/readyz',
      '/metrics',
      '/openapi.json',
      '/ui',
      '/ui/app.js',
      '/ui/app.css',
    ]) {
      conforms(await call('GET', url, undefined, {}), 'GET', url);
    }
    const starting = await buildTestApi({ ready: () => false });
    try {
      for (const url of ['/healthz', '/readyz']) {
        const res = await starting.app.inject({ method: 'GET', url });
        expect(res.statusCode).toBe(503);
        conforms(res, 'GET', url);
      }
    } finally {
      await starting.close();
    }
  });

  it('contract - resource reads, writes and their errors match the document', async () => {
    const one = '/v1/resources/{kind}/{namespace}/{name}';
    const url = '/v1/resources/Service/shop/contract';
    conforms(await call('GET', '/v1/resources'), 'GET', '/v1/resources');
    conforms(await call('GET', '/v1/resources?kind=Service&namespace=shop'), 'GET', '/v1/resources');
    conforms(await call('GET', '/v1/resources?kind=Gateway'), 'GET', '/v1/resources');
    conforms(await call('GET', '/v1/resources', undefined, {}), 'GET', '/v1/resources');
    conforms(await call('POST', '/v1/resources', payments), 'POST', '/v1/resources');
    conforms(await call('POST', '/v1/resources', payments), 'POST', '/v1/resources');
    conforms(await call('POST', '/v1/resources', { kind: 'Service' }), 'POST', '/v1/resources');
    conforms(await call('POST', '/v1/resources', payments, auth(READER_TOKEN)), 'POST', '/v1/resources');
    const got = await call('GET', url);
    expect(got.statusCode).toBe(200);
    expect(JSON.parse(got.body).spec.dependsOn).toEqual(['nowhere']);
    conforms(got, 'GET', one);
    conforms(await call('GET', '/v1/resources/Service/shop/absent'), 'GET', one);
    conforms(await call('GET', '/v1/resources/Service/shop/Not_A_Label'), 'GET', one);
    conforms(await call('PUT', url, payments), 'PUT', one);
    conforms(
      await call('PUT', '/v1/resources/Service/shop/contract-2', {
        ...payments,
        metadata: { name: 'contract-2' },
      }),
      'PUT',
      one,
    );
    conforms(await call('PUT', url, payments, { ...auth(), 'if-match': '"1"' }), 'PUT', one);
    conforms(await call('PUT', url, { ...payments, spec: { ports: 'x' } }), 'PUT', one);
    conforms(await call('PUT', url, payments, { ...auth(), 'if-none-match': '*' }), 'PUT', one);
    conforms(
      await t.app.inject({
        method: 'PUT',
        url,
        headers: { ...auth(), 'content-type': 'text/csv' },
        payload: 'a,b',
      }),
      'PUT',
      one,
    );
    conforms(await call('GET', `${url}/history`), 'GET', `${one}/history`);
    conforms(await call('GET', '/v1/resources/Service/shop/absent/history'), 'GET', `${one}/history`);
    conforms(await call('DELETE', url, undefined, { ...auth(), 'if-match': '"1"' }), 'DELETE', one);
    conforms(await call('DELETE', url), 'DELETE', one);
    conforms(await call('DELETE', url), 'DELETE', one);
  });

  it('contract - apply results, dry runs and refusals match the document', async () => {
    const docs = [payments, { ...payments, metadata: { name: 'contract-3', namespace: 'shop' } }];
    conforms(await call('POST', '/v1/apply?dryRun=true', docs), 'POST', '/v1/apply');
    conforms(await call('POST', '/v1/apply', docs), 'POST', '/v1/apply');
    conforms(await call('POST', '/v1/apply', [...docs, { kind: 'Nope' }]), 'POST', '/v1/apply');
    conforms(
      await call('POST', '/v1/apply', [{ ...payments, metadata: { ...payments.metadata, revision: 1 } }]),
      'POST',
      '/v1/apply',
    );
    conforms(await call('POST', '/v1/apply', []), 'POST', '/v1/apply');
    conforms(await call('POST', '/v1/apply?dryRun=maybe', docs), 'POST', '/v1/apply');
  });

  it('contract - the audit log matches the document', async () => {
    conforms(await call('GET', '/v1/changes'), 'GET', '/v1/changes');
    conforms(await call('GET', '/v1/changes?order=desc&limit=2'), 'GET', '/v1/changes');
    conforms(await call('GET', '/v1/changes?limit=0'), 'GET', '/v1/changes');
  });

  it('contract - region status, proxies, views and previews match the document', async () => {
    conforms(await call('GET', '/v1/regions'), 'GET', '/v1/regions');
    const eu = await call('GET', '/v1/regions/eu-west');
    const summary = JSON.parse(eu.body);
    // An agent that reports: nothing of what it says may be lost on the way out.
    expect(summary.agent.codecs).toEqual(['br', 'gzip']);
    expect(summary.line.transfer).toEqual({ toVersion: 3, chunks: 1, count: 2 });
    expect(summary.lastError).toBe('hash mismatch at version 2');
    conforms(eu, 'GET', '/v1/regions/{region}');
    conforms(await call('GET', '/v1/regions/nowhere'), 'GET', '/v1/regions/{region}');
    conforms(await call('GET', '/v1/regions/Bad_Name'), 'GET', '/v1/regions/{region}');
    const proxies = await call('GET', '/v1/regions/eu-west/proxies');
    expect(JSON.parse(proxies.body).items[0].lastNack.reason).toBe('bad');
    conforms(proxies, 'GET', '/v1/regions/{region}/proxies');
    conforms(await call('GET', '/v1/regions/nowhere/proxies'), 'GET', '/v1/regions/{region}/proxies');
    const view = await call('GET', '/v1/regions/eu-west/view');
    expect(Object.keys(JSON.parse(view.body).resources).length).toBeGreaterThan(1);
    conforms(view, 'GET', '/v1/regions/{region}/view');
    conforms(await call('GET', '/v1/regions/nowhere/view'), 'GET', '/v1/regions/{region}/view');
    const preview = '/v1/regions/{region}/preview';
    conforms(await call('POST', '/v1/regions/eu-west/preview', [payments]), 'POST', preview);
    conforms(await call('POST', '/v1/regions/eu-west/preview', [{ kind: 'Service' }]), 'POST', preview);
    conforms(await call('POST', '/v1/regions/nowhere/preview', [payments]), 'POST', preview);
  });

  it('contract - every documented operation was exercised', () => {
    const operations = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>))
      for (const method of Object.keys(item))
        if (method !== 'parameters') operations.add(`${method.toUpperCase()} ${path}`);
    const exercised = new Set([...checked].map((k) => k.split(' ').slice(0, 2).join(' ')));
    expect([...operations].filter((o) => !exercised.has(o))).toEqual([]);
    // And the check has teeth: a summary without its fields is refused.
    const region = compiled.get('GET /v1/regions/{region} 200')!;
    expect(region({ region: 'eu-west' })).toBe(false);
    expect(checked.size).toBeGreaterThan(40);
  });
});

import SwaggerParser from '@apidevtools/swagger-parser';
import { KINDS, manifestJsonSchemas } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApi, type TestApi } from './support.js';

let t: TestApi;
// biome-ignore lint/suspicious/noExplicitAny: a JSON document explored by path in assertions
let doc: Record<string, any>;
beforeAll(async () => {
  t = await buildTestApi();
  const res = await t.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/application\/json/);
  doc = JSON.parse(res.body);
});
afterAll(async () => {
  await t?.close();
});

describe('openapi', () => {
  it('api - the OpenAPI document is valid OpenAPI 3', async () => {
    // validate() dereferences in place; give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
    expect(doc.openapi).toMatch(/^3\./);
  });

  it('api - the OpenAPI document describes every route the server has', () => {
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(item))
        if (method !== 'parameters') documented.add(`${method.toUpperCase()} ${path}`);
    }
    const served = t.app.fedmeshRoutes.map((r) => `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
    expect(served.length).toBeGreaterThan(10);
    expect([...new Set(served)].sort()).toEqual([...documented].sort());
  });

  it('api - manifest schemas in the document are the ones requests are validated with', () => {
    const schemas = manifestJsonSchemas();
    for (const kind of KINDS) {
      const { $schema: _, ...expected } = schemas[kind];
      expect(doc.components.schemas[kind]).toEqual(expected);
    }
  });
});

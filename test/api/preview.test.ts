import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, sampleMesh } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubClient, startTestHub } from '../support/fedmesh.js';
import { type NatsServerHandle, startNatsServer } from '../support/nats.js';

describe('region preview', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
  });

  afterAll(async () => {
    await hub?.stop();
    await nats?.cleanup();
  });

  const scaledFrontend = {
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: 'frontend-eu-west', namespace: 'shop' },
    spec: { service: 'frontend', region: 'eu-west', endpoints: [{ address: '10.1.1.99', port: 8080 }] },
  };

  it('preview - shows the ops and encoded size a region would receive, and stores nothing', async () => {
    const api = hubClient(hub.url);
    const before = (await api.view('eu-west')).body;
    const res = await api.call('POST', '/v1/regions/eu-west/preview', [scaledFrontend]);
    expect(res.status).toBe(200);
    expect(res.body.fromHash).toBe(before.hash);
    expect(res.body.toHash).not.toBe(before.hash);
    expect(res.body.ops.length).toBeGreaterThan(0);
    expect(
      res.body.ops.every((op: { path: string }) =>
        op.path.startsWith('/ServiceEndpoints~1shop~1frontend-eu-west'),
      ),
    ).toBe(true);
    expect(res.body.encodedBytes).toBeGreaterThan(0);
    expect(res.body.encodedBytes).toBeLessThan(res.body.rawBytes + 64);
    expect(res.body.messages).toBe(1);
    expect((await api.view('eu-west')).body.hash).toBe(before.hash);
  });

  it('preview - a region that does not need the change would receive nothing', async () => {
    const res = await hubClient(hub.url).call('POST', '/v1/regions/us-east/preview', [scaledFrontend]);
    expect(res.status).toBe(200);
    expect(res.body.ops).toEqual([]);
    expect(res.body.encodedBytes).toBe(0);
    expect(res.body.fromHash).toBe(res.body.toHash);
  });

  it('preview - names the offending field of an invalid manifest and 404s an unknown region', async () => {
    const api = hubClient(hub.url);
    const bad = await api.call('POST', '/v1/regions/eu-west/preview', [
      { ...scaledFrontend, spec: { ...scaledFrontend.spec, bogus: 1 } },
    ]);
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues).toContainEqual({
      path: 'documents.0.spec.bogus',
      message: 'unknown field',
    });
    expect((await api.call('POST', '/v1/regions/nowhere/preview', [scaledFrontend])).status).toBe(404);
  });
});

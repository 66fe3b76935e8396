import { readFileSync } from 'node:fs';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, sampleMesh, viewHash } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  agentStatus,
  hubClient,
  removeDir,
  startTestAgent,
  startTestHub,
  type TestAgent,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

describe('first end-to-end path', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  const agents: TestAgent[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    const api = hubClient(hub.url);
    for (const r of sampleMesh().filter((r) => r.kind === 'Region')) {
      const res = await api.put('Region', '_', r.metadata.name, r);
      expect(res.status).toBeLessThan(300);
    }
    agents.push(await startTestAgent(nats.url, 'eu-west'), await startTestAgent(nats.url, 'us-east'));
  });
  afterAll(async () => {
    for (const a of agents) {
      await a.stop();
      removeDir(a.stateDir);
    }
    await hub?.stop();
    await nats?.cleanup();
  });

  it('e2e - a service put at the hub reaches both agents with the hub view hashes', async () => {
    printLogsOnFailure(nats);
    const api = hubClient(hub.url);
    const endpoints = (region: string, address: string) => ({
      apiVersion: API_VERSION,
      kind: 'ServiceEndpoints',
      metadata: { name: `payments-${region}`, namespace: 'shop' },
      spec: { service: 'payments', region, endpoints: [{ address, port: 8080 }] },
    });
    const put = await api.put('Service', 'shop', 'payments', {
      apiVersion: API_VERSION,
      kind: 'Service',
      metadata: { name: 'payments', namespace: 'shop' },
      spec: { ports: [{ name: 'grpc', port: 8080, protocol: 'grpc' }] },
    });
    expect(put.status).toBe(201);
    expect(put.headers.get('etag')).toMatch(/^"\d+"$/);
    expect(
      (await api.put('ServiceEndpoints', 'shop', 'payments-eu-west', endpoints('eu-west', '10.0.0.1')))
        .status,
    ).toBe(201);
    expect(
      (await api.put('ServiceEndpoints', 'shop', 'payments-us-east', endpoints('us-east', '10.1.0.1')))
        .status,
    ).toBe(201);

    for (const agent of agents) {
      const region = agent.config.region;
      const { body: view } = await api.view(region);
      expect(view.resources['Service/shop/payments']).toBeDefined();
      expect(view.hash).toBe(viewHash(view.resources));
      const status = await waitFor(
        async () => {
          const s = (await (await fetch(`${agent.statusUrl}/status`)).json()) as { hash: string };
          return s.hash === view.hash ? s : undefined;
        },
        { what: `${region} to reach the hub's hash` },
      );
      expect(status).toMatchObject({ region, version: view.version, hash: view.hash });
      // The agent's local endpoints are in full; the other region's only as an aggregated gateway entry.
      expect(view.resources[`ServiceEndpoints/shop/payments-${region}`]).toBeDefined();
      const other = region === 'eu-west' ? 'us-east' : 'eu-west';
      expect(view.resources[`ServiceEndpoints/shop/payments-${other}`]).toBeUndefined();
      expect(view.resources[`RemoteEndpoints/shop/payments.${other}`]).toMatchObject({
        spec: { healthy: 1 },
      });
    }

    // The hub sees the applied hashes reported back over the status uplink.
    await waitFor(async () => (await api.region('eu-west')).body.inSync === true, {
      what: 'eu-west in sync at the hub',
    });
  });

  it('e2e - a region whose agent stops reporting is marked stale, with its last applied version kept', async () => {
    printLogsOnFailure(nats);
    const api = hubClient(hub.url);
    const us = agents.find((a) => a.config.region === 'us-east')!;
    // The hub hears of an applied version a moment after the agent applies it: wait for that
    // report before taking the version the hub must keep.
    await waitFor(async () => (await api.region('us-east')).body.inSync === true, {
      what: 'us-east in sync at the hub',
    });
    const applied = (await api.region('us-east')).body.applied;
    expect((await api.region('us-east')).body.stale).toBe(false);
    await us.stop();
    const summary = await waitFor(
      async () => {
        const { body } = await api.region('us-east');
        return body.stale ? body : undefined;
      },
      { what: 'us-east to be marked stale', timeoutMs: 15_000 },
    );
    expect(summary.applied).toEqual(applied);
  });

  it('e2e - health, liveness and readiness carry the build; a deleted Region leaves /v1/regions', async () => {
    const version = JSON.parse(readFileSync('package.json', 'utf8')).version as string;
    const health = await (await fetch(`${hub.url}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', build: { version } });
    expect((await fetch(`${hub.url}/livez`)).status).toBe(200);
    expect((await fetch(`${hub.url}/readyz`)).status).toBe(200);
    const eu = agents.find((a) => a.config.region === 'eu-west')!;
    expect(
      ((await agentStatus(eu.statusUrl)) as unknown as { build: { version: string } }).build.version,
    ).toBe(version);

    const api = hubClient(hub.url);
    const regions = async () =>
      ((await api.call('GET', '/v1/regions')).body.items as { region: string }[]).map((r) => r.region);
    expect(await regions()).toContain('us-east');
    expect((await api.del('Region', '_', 'us-east')).status).toBeLessThan(300);
    await waitFor(async () => !(await regions()).includes('us-east') || undefined, {
      what: 'the deleted Region to leave /v1/regions',
    });
    expect((await api.region('us-east')).status).toBe(404);
  });
});

/**
 * The uplink of discovered endpoints on a real nats-server, the hub and the agent in process:
 * what is registered at region eu-west's agent becomes the hub's ServiceEndpoints
 * shop/payments-eu-west with each endpoint's health, owned by that agent (an admin write to it
 * is a 409 naming the owner), follows health and deregistrations, and is removed once the agent
 * reports nothing for the service.
 */
import { createServer, type Server } from 'node:net';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, sampleMesh } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hubClient,
  removeDir,
  startTestAgent,
  startTestHub,
  type TestAgent,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

interface Endpoints {
  metadata: { annotations?: Record<string, string> };
  spec: { endpoints: { address: string; port: number; healthy?: boolean; zone?: string }[] };
}

describe('the uplink of discovered endpoints', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let agent: TestAgent;
  let backend: Server;
  let port = 0;

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    backend = createServer((s) => s.end());
    port = await new Promise<number>((resolve) =>
      backend.listen(0, '127.0.0.1', () => resolve((backend.address() as { port: number }).port)),
    );
    agent = await startTestAgent(nats.url, 'eu-west');
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    removeDir(agent?.stateDir ?? '');
    await hub?.stop();
    await nats?.cleanup();
    backend?.close();
  });

  const register = (id: string, body: unknown) =>
    fetch(`${agent.statusUrl}/v1/registrations/shop/payments/${id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const stored = async () => {
    const res = await hubClient(hub.url).get('ServiceEndpoints', 'shop', 'payments-eu-west');
    return res.status === 200 ? (res.body as Endpoints) : undefined;
  };

  it('uplink - registered endpoints reach the hub with their health, owned by the agent; admin writes are refused', async () => {
    printLogsOnFailure(nats);
    expect(
      (
        await register('vm-1', {
          address: '127.0.0.1',
          port,
          zone: 'idc-a',
          check: { tcp: true },
          interval: '200ms',
        })
      ).status,
    ).toBe(201);
    expect(
      (await register('vm-2', { address: '127.0.0.1', port: 9, check: { tcp: true }, interval: '200ms' }))
        .status,
    ).toBe(201);
    const first = await waitFor(
      async () => {
        const s = await stored();
        const eps = s?.spec.endpoints ?? [];
        const vm1 = eps.find((e) => e.port === port);
        const vm2 = eps.find((e) => e.port === 9);
        return eps.length === 2 && vm1?.healthy === true && vm2?.healthy === false ? s : undefined;
      },
      { what: "the hub to hold eu-west's registered endpoints with their health", timeoutMs: 20_000 },
    );
    expect(first!.metadata.annotations).toEqual({ 'fedmesh.io/owner': 'agent/eu-west' });
    expect(first!.spec.endpoints.find((e) => e.port === port)!.zone).toBe('idc-a');

    // The agent owns it now: an admin write or delete is a 409 that says so.
    const api = hubClient(hub.url);
    const manual = {
      apiVersion: API_VERSION,
      kind: 'ServiceEndpoints',
      metadata: { name: 'payments-eu-west', namespace: 'shop' },
      spec: { service: 'payments', region: 'eu-west', endpoints: [{ address: '10.0.0.9', port: 8443 }] },
    };
    const put = await api.put('ServiceEndpoints', 'shop', 'payments-eu-west', manual);
    expect(put.status).toBe(409);
    expect(put.body.error.message).toMatch(/owned by the agent of region eu-west/);
    expect((await api.del('ServiceEndpoints', 'shop', 'payments-eu-west')).status).toBe(409);
    const changes = (await api.call('GET', '/v1/changes?limit=1000')).body.items as {
      actor: string;
      name: string;
    }[];
    expect(changes.some((c) => c.actor === 'agent-eu-west' && c.name === 'payments-eu-west')).toBe(true);

    // Deregistrations follow; when nothing is left the agent's object goes.
    expect(
      (await fetch(`${agent.statusUrl}/v1/registrations/shop/payments/vm-2`, { method: 'DELETE' })).status,
    ).toBe(204);
    await waitFor(async () => (await stored())?.spec.endpoints.length === 1 || undefined, {
      what: 'the deregistration to reach the hub',
    });
    expect(
      (await fetch(`${agent.statusUrl}/v1/registrations/shop/payments/vm-1`, { method: 'DELETE' })).status,
    ).toBe(204);
    await waitFor(async () => (await stored()) === undefined || undefined, {
      what: "the hub to remove the agent's endpoints once it reports none",
    });
    // And the service is the operator's to manage again.
    expect((await api.put('ServiceEndpoints', 'shop', 'payments-eu-west', manual)).status).toBe(201);
  });
});

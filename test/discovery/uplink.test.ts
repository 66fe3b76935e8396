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
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { largestFiveSecondBurst } from '../bandwidth/support/pressure.js';
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
    hub = await startTestHub(nats.url, { endpointsStaleAfter: '4s' });
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

  it("uplink - a churn of registrations stays within the Region's uplink.budget in every 5 s window, and the hub ends on the latest state", async () => {
    printLogsOnFailure(nats);
    const api = hubClient(hub.url);
    const region = sampleMesh().find((r) => r.kind === 'Region' && r.metadata.name === 'eu-west')!;
    const BUDGET = 1024;
    await api.put('Region', '_', 'eu-west', {
      ...region,
      spec: { ...(region.spec as object), uplink: { budget: `${BUDGET}B/s` } },
    });
    await waitFor(
      async () => {
        const view = (await api.view('eu-west')).body as { version: number };
        return agent.status().version >= view.version || undefined;
      },
      { what: 'the agent to hold the new uplink budget' },
    );
    // What crosses the uplink (endpoints and status alike), as a raw NATS client sees it.
    const nc = await connect({ servers: nats.url });
    const seen: { t: number; bytes: number }[] = [];
    for (const subject of ['fedmesh.uplink.eu-west', 'fedmesh.status.eu-west'])
      nc.subscribe(subject, {
        callback: (_e, m) => {
          seen.push({ t: performance.now(), bytes: m.data.byteLength + subject.length + 24 });
        },
      });
    // 60 endpoints of one service (each report carries its whole list: ~6 KB, more than the
    // bucket), then 40 label flips 50 ms apart: far more than 1 KiB/s if nothing paced it.
    const reg = (i: number, version: string) =>
      fetch(`${agent.statusUrl}/v1/registrations/shop/frontend/churn-${i}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ address: `10.77.0.${i + 1}`, port: 8080, zone: 'idc-a', labels: { version } }),
      });
    for (let i = 0; i < 60; i++) await reg(i, 'v1');
    for (let k = 0; k < 40; k++) {
      await reg(k % 60, `v${k + 2}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const want = new Map(
      Array.from({ length: 60 }, (_, i) => [`10.77.0.${i + 1}`, i < 40 ? `v${i + 2}` : 'v1']),
    );
    await waitFor(
      async () => {
        const s = await hubClient(hub.url).get('ServiceEndpoints', 'shop', 'frontend-eu-west');
        const eps = (
          s.body as { spec?: { endpoints: { address: string; labels?: { version?: string } }[] } } | undefined
        )?.spec?.endpoints;
        return eps?.length === 60 && eps.every((e) => want.get(e.address) === e.labels?.version)
          ? true
          : undefined;
      },
      { what: 'the hub to end on the latest state of all 60', timeoutMs: 90_000 },
    );
    await nc.close();
    // A token bucket's bound: in any 5 s, the budget for 5 s plus the larger of the bucket
    // (4 KiB) and the largest report (one bigger than the bucket goes whole), 5 % slack.
    const largest = Math.max(...seen.map((b) => b.bytes));
    const allowed = (BUDGET * 5 + Math.max(4096, largest)) * 1.05;
    const worst = largestFiveSecondBurst(seen);
    const total = seen.reduce((n, b) => n + b.bytes, 0);
    const spread = (seen.at(-1)!.t - seen[0]!.t) / 1000;
    console.log(
      `uplink: ${seen.length} messages (endpoints and status), ${total} B for 100 registration changes (${(total / 100).toFixed(0)} B per change), ` +
        `spread over ${spread.toFixed(1)} s; largest 5 s window ${worst} B of ${allowed.toFixed(0)} allowed (largest report ${largest} B)`,
    );
    expect(seen.length).toBeGreaterThan(1);
    expect(worst).toBeLessThanOrEqual(allowed);
    // Paced, not just coalesced: the bytes took at least what the budget allows to cross
    // (a busy machine can only make this longer).
    expect(spread).toBeGreaterThanOrEqual(((total - Math.max(4096, largest)) / BUDGET) * 0.8 - 1);
  }, 120_000);

  it('uplink - a health flip crosses as a healthy count ahead of the detail, and us-east follows it', async () => {
    printLogsOnFailure(nats);
    const api = hubClient(hub.url);
    // The uplink is still at 1 KiB/s (the test above). Payments goes back to the agent.
    await api.del('ServiceEndpoints', 'shop', 'payments-eu-west');
    const second = createServer((c) => c.end());
    const port2 = await new Promise<number>((resolve) =>
      second.listen(0, '127.0.0.1', () => resolve((second.address() as { port: number }).port)),
    );
    try {
      for (const [id, p] of [
        ['p-1', port],
        ['p-2', port2],
      ] as const)
        await register(id, { address: '127.0.0.1', port: p, check: { tcp: true }, interval: '200ms' });
      const weight = async () => {
        const view = (await api.view('us-east')).body as {
          resources: Record<
            string,
            { kind: string; spec: { service?: string; region?: string; healthy?: number } }
          >;
        };
        return Object.values(view.resources).find(
          (r) => r.kind === 'RemoteEndpoints' && r.spec.service === 'payments' && r.spec.region === 'eu-west',
        )?.spec.healthy;
      };
      await waitFor(async () => (await weight()) === 2 || undefined, {
        what: "us-east to see eu-west's two healthy payments endpoints",
        timeoutMs: 60_000,
      });

      const nc = await connect({ servers: nats.url });
      const order: { counts?: Record<string, number>; services: Record<string, { healthy: boolean }[]> }[] =
        [];
      nc.subscribe('fedmesh.uplink.eu-west', {
        callback: (_e, m) => {
          order.push(m.json());
        },
      });
      await nc.flush();
      // ~6 KB of frontend detail (new labels on its 60 endpoints) and then one payments failure.
      for (let i = 0; i < 60; i++)
        await fetch(`${agent.statusUrl}/v1/registrations/shop/frontend/churn-${i}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            address: `10.77.0.${i + 1}`,
            port: 8080,
            zone: 'idc-a',
            labels: { version: 'v99' },
          }),
        });
      await register('p-2', { address: '127.0.0.1', port: 9, check: { tcp: true }, interval: '200ms' });
      await waitFor(async () => (await weight()) === 1 || undefined, {
        what: 'us-east to follow the failure',
        timeoutMs: 60_000,
      });
      await waitFor(
        async () =>
          (await stored())?.spec.endpoints.some((e) => e.port === 9 && e.healthy === false) || undefined,
        { what: 'the detail to reach the hub', timeoutMs: 90_000 },
      );
      await nc.close();
      const countAt = order.findIndex((r) => r.counts?.['shop/payments'] === 1);
      const detailAt = order.findIndex((r) => r.services['shop/payments']?.some((e) => !e.healthy));
      console.log(
        `uplink order: ${order.map((r) => (r.counts ? 'counts' : Object.keys(r.services).join('+') || 'empty')).join(', ')}`,
      );
      expect(countAt).toBeGreaterThanOrEqual(0);
      expect(detailAt).toBeGreaterThan(countAt);
      // The hub wrote the count ahead of the detail, and the detail dropped it.
      const history = (await api.call('GET', '/v1/resources/ServiceEndpoints/shop/payments-eu-west/history'))
        .body.items as { resource?: { metadata: { annotations?: Record<string, string> } } }[];
      expect(
        history.some((h) => h.resource?.metadata.annotations?.['fedmesh.io/healthy-count'] === '1'),
      ).toBe(true);
      expect((await stored())!.metadata.annotations).toEqual({ 'fedmesh.io/owner': 'agent/eu-west' });
    } finally {
      second.close();
    }
  }, 150_000);

  it('uplink - a region whose agent is gone keeps its endpoints, marked stale, never deleted', async () => {
    printLogsOnFailure(nats);
    const api = hubClient(hub.url);
    const discovery = async () =>
      (
        (await api.call('GET', '/v1/regions/eu-west')).body as {
          discovery: { services: number; stale: boolean };
        }
      ).discovery;
    const before = await discovery();
    expect(before.services).toBeGreaterThanOrEqual(1);
    expect(before.stale).toBe(false);
    await agent.stop();
    await waitFor(async () => (await discovery()).stale || undefined, {
      what: "the hub to mark eu-west's endpoints stale (--endpoints-stale-after 4s)",
      timeoutMs: 30_000,
    });
    expect((await stored())?.spec.endpoints.length).toBeGreaterThan(0);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/fedmesh_hub_region_endpoints_stale\{region="eu-west"\} 1/);
  }, 60_000);
});

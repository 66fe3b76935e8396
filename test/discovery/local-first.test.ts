/**
 * Local first, with real parts: a real nats-server, the hub in process, the agent as its own
 * process, two gRPC backends registered with the agent (gRPC health checks), and a proxyless
 * gRPC client (@grpc/grpc-js-xds, its own process) of the agent's xDS server. The hub only knows
 * the Service (its ServiceEndpoints for the region points nowhere): the client reaches the
 * registered backends without any round trip through the hub, and when one fails its health
 * check (still answering calls) the client stops using it. The time from the failure to the
 * client's last call to it is printed: local failover.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../hub/src/cli/index.js';
import {
  type AgentProcess,
  hubClient,
  removeDir,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';
import { type Backend, startBackend, startXdsClient, type XdsClientProcess } from '../xds/support.js';
import { NS, putPaymentsMesh, REGION, TARGET } from '../xds-e2e/mesh.js';

describe('local first: registered endpoints are served at once', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let agent: AgentProcess;
  let client: XdsClientProcess | undefined;
  const backends: Backend[] = [];
  const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-local-first-'));

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    // What the hub says of payments in eu-west: one endpoint on a port nothing listens on.
    const nowhere = {
      name: 'nowhere',
      port: 9,
      calls: () => 0,
      setServing: () => undefined,
      close: async () => {},
    };
    await putPaymentsMesh(hubClient(hub.url), [{ backend: nowhere, subset: 'v1' }], [100, 0]);
    for (const name of ['vm-a', 'vm-b']) backends.push(await startBackend(name));
    agent = await spawnAgent(nats.url, REGION, stateDir);
    await waitConverged(hub.url, agent.statusUrl, REGION);
  }, 90_000);

  afterAll(async () => {
    await client?.close();
    await agent?.stop();
    await hub?.stop();
    await nats?.cleanup();
    await Promise.all(backends.map((b) => b.close()));
    removeDir(stateDir);
  });

  it('local first - the client reaches registered backends, and leaves one within a check interval of its failing check', async () => {
    printLogsOnFailure(nats);
    for (const b of backends) {
      const res = await fetch(`${agent.statusUrl}/v1/registrations/${NS}/payments/${b.name}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          address: '127.0.0.1',
          port: b.port,
          labels: { version: 'v1' },
          check: { grpc: true },
          interval: '200ms',
          // A failing backend answers NOT_SERVING at once; the timeout only has to outlast a busy
          // machine's slowest healthy answer (150 ms made healthy backends flap at load 8).
          timeout: '1s',
          fall: 1,
        }),
      });
      expect(res.status).toBe(201);
    }
    client = await startXdsClient({ xdsPort: agent.xdsPort, nodeId: 'local-first', region: REGION });
    await waitFor(
      async () => Object.keys((await client!.calls(TARGET, 40)).counts).length === 2 || undefined,
      {
        what: 'the client to reach both registered backends',
        timeoutMs: 30_000,
      },
    );
    // The proxy inventory reaches the hub: the client, SYNCED, with what it ACKed.
    const proxies = await waitFor(
      async () => {
        const { body } = await hubClient(hub.url).call('GET', `/v1/regions/${REGION}/proxies`);
        const items = (
          body as { items: { node: string; state: string; client: string | null; nacks: number }[] }
        ).items;
        return items.length === 1 && items[0]!.state === 'SYNCED' ? items : undefined;
      },
      { what: "the hub to list the agent's proxy as SYNCED", timeoutMs: 30_000 },
    );
    expect(proxies![0]).toMatchObject({ node: 'local-first', nacks: 0 });
    expect(proxies![0]!.client).toMatch(/grpc/i);
    let printed = '';
    const code = await runCli(['proxies', '-r', REGION, '--server', hub.url], {
      stdout: (t) => {
        printed += t;
      },
      stderr: () => undefined,
      env: {},
      readStdin: async () => '',
    });
    expect(code).toBe(0);
    expect(printed).toMatch(/^NODE\s+REGION\s+CLIENT\s+STATUS\s+LDS\s+RDS\s+CDS\s+EDS\s+NACKS/);
    expect(printed).toMatch(/local-first\s+eu-west\s+.*SYNCED/);
    expect((await hubClient(hub.url).call('GET', '/v1/regions/nowhere/proxies')).status).toBe(404);

    // Served by the agent itself: once the hub holds the reported endpoints as the agent's, it
    // leaves them out of eu-west's view (local first), and the client still reaches both.
    await waitFor(
      async () => {
        const view = (await hubClient(hub.url).view(REGION)).body as { resources: Record<string, unknown> };
        return view.resources[`ServiceEndpoints/${NS}/payments-${REGION}`] === undefined || undefined;
      },
      { what: "eu-west's view to leave out the endpoints its agent owns" },
    );
    await waitConverged(hub.url, agent.statusUrl, REGION);
    expect(Object.keys((await client.calls(TARGET, 40)).counts).sort()).toEqual(['vm-a', 'vm-b']);

    const failing = backends[0]!;
    const t0 = performance.now();
    failing.setServing(false);
    await waitFor(
      async () => {
        const { counts } = await client!.calls(TARGET, 20);
        return counts[failing.name] === undefined && counts[backends[1]!.name] === 20 ? true : undefined;
      },
      { what: 'the client to stop using the backend that fails its check', timeoutMs: 30_000 },
    );
    const ms = performance.now() - t0;
    console.log(
      `local failover: ${ms.toFixed(0)} ms from a failing check (interval 200 ms, fall 1) to 20 calls avoiding it`,
    );
    // And back: it passes again, and rises after two passes.
    failing.setServing(true);
    await waitFor(
      async () => ((await client!.calls(TARGET, 40)).counts[failing.name] ?? 0) > 0 || undefined,
      {
        what: 'the client to use the backend again once it passes',
        timeoutMs: 30_000,
      },
    );
  }, 120_000);
});

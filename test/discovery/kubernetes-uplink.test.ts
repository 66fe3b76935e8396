/**
 * Kubernetes discovery end to end, with real parts: a real nats-server, the hub in process, the
 * agent as its own process (`--discovery kubernetes --kubeconfig <file>`), and the suite's
 * stand-in kube-apiserver (test/support/kube-apiserver.ts) holding the EndpointSlices and pods
 * of shop/payments. The hub ends up with eu-west's ServiceEndpoints shop/payments-eu-west, owned
 * by the agent, with each pod's zone and labels; an endpoint that stops being ready on the
 * stand-in turns unhealthy at the hub and lowers the healthy count other regions see.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { sampleMesh } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentProcess,
  hubClient,
  putResource,
  removeDir,
  spawnAgent,
  startTestHub,
  waitFor,
} from '../support/fedmesh.js';
import { endpointSlice, type KubeApiServer, pod, startKubeApiServer } from '../support/kube-apiserver.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

interface Endpoints {
  metadata: { annotations?: Record<string, string> };
  spec: {
    endpoints: {
      address: string;
      port: number;
      healthy?: boolean;
      zone?: string;
      labels?: Record<string, string>;
    }[];
  };
}

describe('Kubernetes discovery reaches the hub', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let api: KubeApiServer;
  let agent: AgentProcess | undefined;
  const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-kube-uplink-'));

  const payments = (secondReady: boolean) =>
    endpointSlice({
      namespace: 'shop',
      service: 'payments',
      name: 'payments-7xk2q',
      ports: [{ name: 'grpc', port: 9091 }],
      endpoints: [
        { ip: '10.1.3.20', pod: 'payments-v1-0', zone: 'eu-west-1a', nodeName: 'node-a' },
        { ip: '10.1.3.21', pod: 'payments-v2-0', zone: 'eu-west-1b', nodeName: 'node-b', ready: secondReady },
      ],
    });

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    for (const r of sampleMesh()) await putResource(hub.url, r);
    api = await startKubeApiServer();
    api.put(
      'pods',
      pod({ namespace: 'shop', name: 'payments-v1-0', labels: { app: 'payments', version: 'v1' } }),
    );
    api.put(
      'pods',
      pod({ namespace: 'shop', name: 'payments-v2-0', labels: { app: 'payments', version: 'v2' } }),
    );
    api.put('endpointslices', payments(true));
    agent = await spawnAgent(nats.url, 'eu-west', stateDir, [
      '--discovery',
      'kubernetes',
      '--kubeconfig',
      api.kubeconfig,
      '--kube-namespaces',
      'shop',
    ]);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await hub?.stop();
    await nats?.cleanup();
    await api?.close();
    removeDir(stateDir);
  });

  const stored = async () => {
    const res = await hubClient(hub.url).get('ServiceEndpoints', 'shop', 'payments-eu-west');
    return res.status === 200 ? (res.body as Endpoints) : undefined;
  };
  /** eu-west's healthy count of payments in us-east's view (its RemoteEndpoints entry). */
  const seenFromUsEast = async () => {
    const view = (await hubClient(hub.url).view('us-east')).body as {
      resources: Record<string, { spec: { healthy: number } }>;
    };
    return view.resources['RemoteEndpoints/shop/payments.eu-west']?.spec.healthy;
  };

  it("kubernetes uplink - the slices become the agent's ServiceEndpoints at the hub, with zones and pod labels, and readiness follows", async () => {
    printLogsOnFailure(nats);
    const first = await waitFor(
      async () => {
        const s = await stored();
        return s?.metadata.annotations?.['fedmesh.io/owner'] === 'agent/eu-west' &&
          s.spec.endpoints.length === 2
          ? s
          : undefined;
      },
      { what: "the hub to hold eu-west's Kubernetes endpoints as the agent's", timeoutMs: 30_000 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}\n${agent?.output().slice(-4000)}`);
    });
    expect(first!.spec.endpoints).toEqual([
      {
        address: '10.1.3.20',
        port: 9091,
        zone: 'eu-west-1a',
        labels: { app: 'payments', version: 'v1' },
        healthy: true,
      },
      {
        address: '10.1.3.21',
        port: 9091,
        zone: 'eu-west-1b',
        labels: { app: 'payments', version: 'v2' },
        healthy: true,
      },
    ]);
    await waitFor(async () => (await seenFromUsEast()) === 2 || undefined, {
      what: "us-east's view to count eu-west's two healthy payments endpoints",
    });

    // The v2 pod stops being ready: the slice says so, and so does the hub.
    api.put('endpointslices', payments(false));
    await waitFor(
      async () =>
        (await stored())?.spec.endpoints.find((e) => e.address === '10.1.3.21')?.healthy === false ||
        undefined,
      { what: 'the not-ready endpoint to turn unhealthy at the hub', timeoutMs: 30_000 },
    );
    await waitFor(async () => (await seenFromUsEast()) === 1 || undefined, {
      what: "us-east's view to count one healthy endpoint in eu-west",
    });
    // The agent is the owner: an admin write is refused.
    const put = await hubClient(hub.url).put('ServiceEndpoints', 'shop', 'payments-eu-west', {
      ...sampleMesh().find((r) => r.kind === 'ServiceEndpoints' && r.metadata.name === 'payments-eu-west'),
    });
    expect(put.status).toBe(409);
  });

  it('kubernetes uplink - SIGTERM stops the agent and its informers cleanly', async () => {
    const watching = api.watchers();
    expect(watching).toBeGreaterThan(0);
    expect(await agent!.stop()).toBe(0);
    agent = undefined;
    await waitFor(() => api.watchers() === 0 || undefined, { what: "the agent's watches to close" });
  });
});

/**
 * Discovery end to end across two regions, with real parts: a real nats-server, the hub in
 * process, the agents of eu-west (A) and us-east (B) as their own processes, real gRPC backends
 * with the gRPC health service registered at their region's agent (TCP and gRPC checks), a
 * stand-in for each region's east-west gateway (a real TCP forwarder, see ./support.ts: Istio's or
 * Envoy's gateway cannot run here), and a proxyless gRPC client in B (@grpc/grpc-js-xds, its own
 * process) of B's agent.
 *
 * Service payments runs in both regions: two backends in A, one in B. B's view holds A only as
 * one RemoteEndpoints entry, A's gateway weighted by A's healthy count; B's agent serves it as a
 * lower priority than B's own backend. The client uses B's backend, fails over through A's
 * gateway when that backend fails its check, and the test then takes A's backends down one by
 * one: the hub's A endpoints, B's view and, once B's agent holds that view, the client follow,
 * and no call reaches A after A's weight went to 0. The times from each failure to the hub and to
 * B's view are printed for information; nothing asserts on them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  type AgentProcess,
  agentStatus,
  hubClient,
  putRegistration,
  putResource,
  removeDir,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';
import { type Backend, startBackend, startXdsClient, type XdsClientProcess } from '../xds/support.js';
import { type GatewayStandIn, startGatewayStandIn } from './support.js';

const A = 'eu-west';
const B = 'us-east';
const NS = 'shop';
const SERVICE = 'payments';
const TARGET = `xds:///${SERVICE}.${NS}`;
const CLIENT_NODE = 'us-east-client';
const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
/** Short checks so that the test is quick; fall 1 so that one failed check is enough. */
const CHECK = { interval: '500ms', timeout: '400ms', fall: 1 };

interface StoredEndpoints {
  metadata: { annotations?: Record<string, string> };
  spec: { endpoints: { port: number; healthy?: boolean }[] };
}
interface RemoteEntry {
  spec: { region: string; gateway: { address: string; port: number }; healthy: number };
}

/** Connections the gateway took, forwarded or refused. */
const gatewayDials = (g: GatewayStandIn) =>
  Object.values(g.forwarded()).reduce((n, c) => n + c, 0) + g.refused();

describe('discovery across two regions: endpoints, gateway weights and the client follow', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  const agents: Partial<Record<string, AgentProcess>> = {};
  const gateways: Partial<Record<string, GatewayStandIn>> = {};
  const backends: Record<string, Backend> = {};
  const dirs = [A, B].map((r) => mkdtempSync(join(tmpdir(), `fedmesh-two-regions-${r}-`)));
  let client: XdsClientProcess | undefined;

  const api = () => hubClient(hub.url);
  /** The hub's view of B: A's gateway entry for payments, or undefined when it has none. */
  const remoteOfA = async (): Promise<{ version: number; entry: RemoteEntry | undefined }> => {
    const view = (await api().view(B)).body as { version: number; resources: Record<string, RemoteEntry> };
    return { version: view.version, entry: view.resources[`RemoteEndpoints/${NS}/${SERVICE}.${A}`] };
  };
  /** The hub's ServiceEndpoints of payments in A, reported by A's agent. */
  const storedA = async (): Promise<StoredEndpoints | undefined> => {
    const res = await api().get('ServiceEndpoints', NS, `${SERVICE}-${A}`);
    return res.status === 200 ? (res.body as StoredEndpoints) : undefined;
  };
  const healthOf = (stored: StoredEndpoints | undefined, b: Backend) =>
    stored?.spec.endpoints.find((e) => e.port === b.port)?.healthy;
  /** The EDS version B's client ACKed last, as B's agent saw it. */
  const clientEdsVersion = async (): Promise<number> => {
    const s = (await agentStatus(agents[B]!.statusUrl)) as unknown as {
      xds: { proxies: { id: string; acked: Record<string, string> }[] };
    };
    return Number(s.xds.proxies.find((p) => p.id === CLIENT_NODE)?.acked[EDS] ?? -1);
  };
  const calls = (count = 20) => client!.calls(TARGET, count, { deadlineMs: 2000, concurrency: 4 });

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    for (const name of ['a1', 'a2', 'b1']) backends[name] = await startBackend(name);
    agents[A] = await spawnAgent(nats.url, A, dirs[0]!);
    agents[B] = await spawnAgent(nats.url, B, dirs[1]!);
    // Each gateway forwards to its region's backends, healthy or not: what keeps calls away from A
    // at the end must be B's view and B's agent, not a gateway that knows better (a real one
    // learns its endpoints' health from its own control plane, but later than B may call).
    const upstreams = (names: string[]) => async () =>
      names.map((n) => ({ address: '127.0.0.1', port: backends[n]!.port }));
    gateways[A] = await startGatewayStandIn(upstreams(['a1', 'a2']));
    gateways[B] = await startGatewayStandIn(upstreams(['b1']));
    for (const r of [A, B]) {
      await putResource(hub.url, {
        apiVersion: API_VERSION,
        kind: 'Region',
        metadata: { name: r },
        spec: {
          labels: { geo: r.split('-')[0]! },
          gateway: { address: '127.0.0.1', port: gateways[r]!.port },
        },
      });
    }
    await putResource(hub.url, {
      apiVersion: API_VERSION,
      kind: 'Service',
      metadata: { name: SERVICE, namespace: NS },
      spec: { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }], exportTo: [A, B] },
    });
    const register = (region: string, b: Backend, check: Record<string, unknown>) =>
      putRegistration(
        agents[region]!.statusUrl,
        { namespace: NS, service: SERVICE, id: b.name },
        { address: '127.0.0.1', port: b.port, zone: `${region}-a`, check, ...CHECK },
      );
    // a1 is checked by TCP connect, a2 and b1 by grpc.health.v1: a2 and b1 can fail their check
    // while still answering calls, which is what makes "no call reaches it" mean something.
    await register(A, backends.a1!, { tcp: true });
    await register(A, backends.a2!, { grpc: true });
    await register(B, backends.b1!, { grpc: true });
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await Promise.all(Object.values(agents).map((a) => a?.stop()));
    await hub?.stop();
    await nats?.cleanup();
    await Promise.all(Object.values(gateways).map((g) => g?.close()));
    await Promise.all(Object.values(backends).map((b) => b.close()));
    for (const d of dirs) removeDir(d);
  });

  it("two regions - B sees A's gateway weighted by A's healthy count, and stops calling A once it is 0", async () => {
    printLogsOnFailure(nats);
    onTestFailed(() => {
      for (const a of Object.values(agents))
        console.error(`--- agent ${a?.region} ---\n${a?.output().slice(-8_000)}`);
      console.error(`--- xDS client ---\n${client?.stderr().slice(-8_000)}`);
    });
    const { a1, a2, b1 } = backends as Record<'a1' | 'a2' | 'b1', Backend>;

    // Both of A's backends healthy: B's view holds A's gateway with weight 2.
    const first = await waitFor(
      async () => {
        const { entry } = await remoteOfA();
        return entry?.spec.healthy === 2 ? entry : undefined;
      },
      { what: "B's view to hold A's gateway entry with weight 2", timeoutMs: 30_000 },
    );
    expect(first!.spec.gateway).toEqual({ address: '127.0.0.1', port: gateways[A]!.port });
    expect((await storedA())!.metadata.annotations).toEqual({ 'fedmesh.io/owner': `agent/${A}` });
    await waitConverged(hub.url, agents[B]!.statusUrl, B);

    // Local first: B's own backend answers while it is healthy (priority 0).
    client = await startXdsClient({ xdsPort: agents[B]!.xdsPort, nodeId: CLIENT_NODE, region: B });
    await waitFor(async () => (await calls()).counts.b1 === 20 || undefined, {
      what: "B's client to reach B's own backend",
      timeoutMs: 30_000,
    });
    expect(gateways[A]!.forwarded()).toEqual({});

    // B's backend fails its check: the client fails over to A, through A's gateway.
    b1.setServing(false);
    const viaA = await waitFor(
      async () => {
        const r = await calls();
        return (r.counts.a1 ?? 0) + (r.counts.a2 ?? 0) === 20 ? r : undefined;
      },
      { what: "B's client to reach A's backends through A's gateway", timeoutMs: 30_000 },
    );
    expect(viaA!.counts.b1).toBeUndefined();
    expect(Object.values(gateways[A]!.forwarded()).reduce((n, c) => n + c, 0)).toBeGreaterThan(0);

    // A's first backend goes away (its server closes).
    let t0 = performance.now();
    await a1.close();
    await waitFor(
      async () => {
        const s = await storedA();
        return healthOf(s, a1) === false && healthOf(s, a2) === true ? s : undefined;
      },
      { what: "the hub to hold A's first backend as unhealthy, the second as healthy", timeoutMs: 30_000 },
    );
    const hubMs1 = performance.now() - t0;
    await waitFor(async () => (await remoteOfA()).entry?.spec.healthy === 1 || undefined, {
      what: "B's view to weigh A's gateway 1",
      timeoutMs: 30_000,
    });
    const viewMs1 = performance.now() - t0;
    // The client's connection through the gateway, if it led to a1, closed with it; a1 refuses
    // the next one, which the gateway takes to a2.
    await waitFor(async () => (await calls()).counts.a2 === 20 || undefined, {
      what: "B's client to reach A's remaining backend",
      timeoutMs: 30_000,
    });

    // A's second backend fails its check, still answering calls: A has no healthy backend left.
    t0 = performance.now();
    a2.setServing(false);
    await waitFor(async () => healthOf(await storedA(), a2) === false || undefined, {
      what: "the hub to hold A's second backend as unhealthy",
      timeoutMs: 30_000,
    });
    const hubMs2 = performance.now() - t0;
    const dropped = await waitFor(
      async () => {
        const r = await remoteOfA();
        return r.entry === undefined || r.entry.spec.healthy === 0 ? r : undefined;
      },
      { what: "B's view to drop A's gateway (or weigh it 0)", timeoutMs: 30_000 },
    );
    const viewMs2 = performance.now() - t0;
    await waitConverged(hub.url, agents[B]!.statusUrl, B);
    // B's agent holds that view and the client has taken the endpoints built from it.
    await waitFor(async () => (await clientEdsVersion()) >= dropped!.version || undefined, {
      what: "B's client to ACK the endpoints without A's gateway",
      timeoutMs: 30_000,
    });
    const clientMs2 = performance.now() - t0;

    // From now on no call reaches A, although A's gateway would still take one to a2 and a2
    // would answer it: with B's backend failing its check too, calls fail rather than go to a
    // region that has nothing healthy. Nor does the client even dial A's gateway.
    const before = a2.calls();
    const dialled = gatewayDials(gateways[A]!);
    const after = await calls();
    expect(after.counts).toEqual({});
    expect(Object.values(after.errors).reduce((n, c) => n + c, 0)).toBe(20);
    expect(a2.calls()).toBe(before);
    expect(gatewayDials(gateways[A]!)).toBe(dialled);

    // B's backend passes again: the client is back on it, and A still sees nothing.
    b1.setServing(true);
    await waitFor(async () => (await calls()).counts.b1 === 20 || undefined, {
      what: "B's client to use B's backend again once it passes",
      timeoutMs: 30_000,
    });
    expect(a2.calls()).toBe(before);
    expect(gatewayDials(gateways[A]!)).toBe(dialled);

    console.log(
      `two regions: A's 1st backend closed → hub unhealthy ${hubMs1.toFixed(0)} ms, B's view weight 1 ${viewMs1.toFixed(0)} ms; ` +
        `A's 2nd backend failing its check → hub unhealthy ${hubMs2.toFixed(0)} ms, B's view weight 0 ${viewMs2.toFixed(0)} ms, ` +
        `B's client ACKed it ${clientMs2.toFixed(0)} ms (checks every 500 ms, fall 1); ` +
        `A's gateway forwarded ${JSON.stringify(gateways[A]!.forwarded())}, refused ${gateways[A]!.refused()}`,
    );
  }, 90_000);
});

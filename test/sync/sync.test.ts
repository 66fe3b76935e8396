import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import {
  API_VERSION,
  encodeBody,
  MessageType,
  type Resource,
  SYNC_STREAM,
  sampleMesh,
  syncSubject,
} from '@fedmesh/shared';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentProcess,
  agentStatus,
  hubClient,
  removeDir,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

const REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;

/** Messages on each region's sync subject, read from the stream itself. */
async function subjectCounts(nc: NatsConnection): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const si = await jsm.streams.info(SYNC_STREAM, { subjects_filter: 'fedmesh.sync.>' });
  return Object.fromEntries(REGIONS.map((r) => [r, si.state.subjects?.[syncSubject(r)] ?? 0]));
}

type ViewBody = { resources: Record<string, { metadata: { labels?: Record<string, string> } }> };

async function waitForView(hubUrl: string, region: string, has: (view: ViewBody) => boolean) {
  await waitFor(async () => has((await hubClient(hubUrl).view(region)).body as ViewBody), {
    what: `the hub's ${region} view to show the change`,
  });
}

async function putAll(hubUrl: string, resources: Resource[]) {
  const api = hubClient(hubUrl);
  for (const r of resources) {
    // 503 means NATS is (re)connecting: retry as a client should.
    const res = (await waitFor(async () => {
      const out = await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
      return out.status === 503 ? undefined : out;
    }))!;
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  }
}

describe('verified sync over a real nats-server', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let nc: NatsConnection;
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    nc = await connect({ servers: nats.url });
    await putAll(hub.url, sampleMesh());
    for (const region of REGIONS) {
      agents.push(await spawnAgent(nats.url, region, mkdtempSync(join(tmpdir(), `fedmesh-${region}-`))));
    }
    for (const a of agents) await waitConverged(hub.url, a.statusUrl, a.region);
  }, 90_000);

  afterEach(async () => {
    // Every scenario ends with every region on the hub's view.
    for (const a of agents) await waitConverged(hub.url, a.statusUrl, a.region);
  });

  afterAll(async () => {
    for (const a of agents) {
      await a.stop();
      removeDir(a.stateDir);
    }
    await nc?.close();
    await hub?.stop();
    await nats?.cleanup();
  });

  it('sync - a change to a service used only in eu-west publishes nothing on the other subjects', async () => {
    printLogsOnFailure(nats);
    const before = await subjectCounts(nc);
    const frontend = sampleMesh().find((r) => r.kind === 'Service' && r.metadata.name === 'frontend')!;
    await putAll(hub.url, [
      { ...frontend, metadata: { ...frontend.metadata, labels: { team: 'web' } } } as Resource,
    ]);
    // The PUT returns once the KV write is stored; wait until the hub's view has it.
    await waitForView(
      hub.url,
      'eu-west',
      (v) => v.resources['Service/shop/frontend']?.metadata.labels?.team === 'web',
    );
    await waitConverged(hub.url, agents[0]!.statusUrl, 'eu-west');
    await hub.engine.flush();
    const after = await subjectCounts(nc);
    expect(after['eu-west']).toBe(before['eu-west']! + 1);
    expect(after['us-east']).toBe(before['us-east']);
    expect(after['ap-south']).toBe(before['ap-south']);
  });

  it('sync - swapping endpoint addresses in us-east with the same healthy count sends nothing to other regions', async () => {
    printLogsOnFailure(nats);
    const before = await subjectCounts(nc);
    const eps = sampleMesh().find((r) => r.metadata.name === 'payments-us-east') as Resource & {
      spec: { endpoints: { address: string }[] };
    };
    eps.spec.endpoints.forEach((e, i) => {
      e.address = `10.2.7.${i + 1}`;
    });
    await putAll(hub.url, [eps]);
    await waitForView(hub.url, 'us-east', (v) =>
      JSON.stringify(v.resources['ServiceEndpoints/shop/payments-us-east']).includes('10.2.7.1'),
    );
    await waitConverged(hub.url, agents[1]!.statusUrl, 'us-east');
    await hub.engine.flush();
    const after = await subjectCounts(nc);
    expect(after['us-east']).toBe(before['us-east']! + 1);
    expect(after['eu-west']).toBe(before['eu-west']);
    expect(after['ap-south']).toBe(before['ap-south']);
  });

  it('sync - an agent killed with SIGKILL mid-stream resumes from its persisted version', async () => {
    printLogsOnFailure(nats);
    const eu = agents[0]!;
    const held = await agentStatus(eu.statusUrl);
    const writes = (async () => {
      for (let i = 0; i < 30; i++) {
        await putAll(hub.url, [svc(`burst-${i}`), eps(`burst-${i}`, 'eu-west', 1 + (i % 3))]);
      }
    })();
    await new Promise((r) => setTimeout(r, 150));
    await eu.kill9();
    await writes;
    const restarted = await spawnAgent(nats.url, 'eu-west', eu.stateDir);
    agents[0] = restarted;
    // Static stability: before it catches up it already serves the version it persisted.
    const first = await agentStatus(restarted.statusUrl);
    expect(first.version).toBeGreaterThanOrEqual(held.version);
    await waitConverged(hub.url, restarted.statusUrl, 'eu-west');
    const s = (await (await fetch(`${restarted.statusUrl}/status`)).json()) as {
      sync: { rejected: number; lastError: string | null };
    };
    expect(s.sync.rejected, String(s.sync.lastError)).toBe(0);
  });

  it('sync - a nats-server restart ends with every region converged', async () => {
    printLogsOnFailure(nats);
    await nats.restart();
    await putAll(hub.url, [eps('payments', 'us-east', 4)]);
    for (const a of agents) await waitConverged(hub.url, a.statusUrl, a.region, 30_000);
  });

  it('sync - a garbage message on a region subject is rejected whole and the region resyncs', async () => {
    printLogsOnFailure(nats);
    const ap = agents[2]!;
    const before = await agentStatus(ap.statusUrl);
    const js = jetstream(nc);
    // A well-formed envelope in front of a payload that is not brotli, then a body with no
    // envelope at all: both rejected whole before anything is applied.
    const forged = encodeBody(
      {
        type: MessageType.Delta,
        region: 'ap-south',
        fromVersion: before.version,
        toVersion: before.version + 1,
        toHash: 'f'.repeat(64),
        codec: 'br',
        chunk: { index: 1, count: 1 },
        rawSize: 10,
      },
      new TextEncoder().encode('not brotli at all'),
    );
    await js.publish(syncSubject('ap-south'), forged);
    await js.publish(syncSubject('ap-south'), new TextEncoder().encode('no envelope either'));
    const after = await waitFor(async () => {
      const s = await agentStatus(ap.statusUrl);
      return s.sync.rejected > before.sync.rejected && s.sync.resyncs > before.sync.resyncs ? s : undefined;
    });
    expect(after?.hash).toBe(before.hash); // nothing of the garbage was applied
    // The next real change flows again on the repaired chain.
    await putAll(hub.url, [eps('frontend', 'ap-south', 1)]);
    await waitConverged(hub.url, ap.statusUrl, 'ap-south');
  });
});

function svc(name: string): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'Service',
    metadata: { name, namespace: 'shop' },
    spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }] },
  } as Resource;
}

function eps(service: string, region: string, n: number): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: `${service}-${region}`, namespace: 'shop' },
    spec: {
      service,
      region,
      endpoints: Array.from({ length: n }, (_, i) => ({ address: `10.4.0.${i + 1}`, port: 8080 })),
    },
  } as Resource;
}

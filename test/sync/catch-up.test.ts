/**
 * Catch-up chosen by bytes and the one-bad-message rule, on a real nats-server with the hub in
 * process and the agent as its own process: what an agent that was away gets, and what one
 * garbage message costs.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, type Resource, SYNC_STREAM, sampleMesh, syncSubject } from '@fedmesh/shared';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentProcess,
  agentStatus,
  hubClient,
  putResource,
  removeDir,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

const REGION = 'eu-west';

interface SyncStatus {
  version: number;
  hash: string;
  sync: {
    messagesReceived: number;
    bytesReceived: number;
    rejected: number;
    resyncs: number;
    catchUps: number;
    lastError: string | null;
  };
}
const status = async (a: AgentProcess) => (await agentStatus(a.statusUrl)) as unknown as SyncStatus;

/** A rolling restart of `frontend` in eu-west: every step moves one replica to a new address. */
function rollingStep(i: number): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: `frontend-${REGION}`, namespace: 'shop' },
    spec: {
      service: 'frontend',
      region: REGION,
      endpoints: Array.from({ length: 3 }, (_, j) => ({
        address: `10.9.${(i + j) % 200}.${j + 1}`,
        port: 8080,
      })),
    },
  } as Resource;
}

async function subjectMessages(nc: NatsConnection): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const si = await jsm.streams.info(SYNC_STREAM, { subjects_filter: syncSubject(REGION) });
  return si.state.subjects?.[syncSubject(REGION)] ?? 0;
}

describe('catch-up over a real nats-server', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let nc: NatsConnection;
  let agent: AgentProcess;
  const stateDir = mkdtempSync(join(tmpdir(), `fedmesh-catch-up-${REGION}-`));

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    nc = await connect({ servers: nats.url });
    for (const r of sampleMesh()) await putResource(hub.url, r);
    agent = await spawnAgent(nats.url, REGION, stateDir);
    await waitConverged(hub.url, agent.statusUrl, REGION);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    removeDir(stateDir);
    await nc?.close();
    await hub?.stop();
    await nats?.cleanup();
  });

  it('catch-up - an agent away during 150 changes to one service gets one coalesced delta, not the queue', async () => {
    printLogsOnFailure(nats);
    await agent.stop();
    const api = hubClient(hub.url);
    const sentBefore = ((await api.region(REGION)).body as { bytesSent: number }).bytesSent;
    const messagesBefore = await subjectMessages(nc);
    for (let i = 0; i < 150; i++) {
      await putResource(hub.url, rollingStep(i));
      // Each step its own delta: the queue a replaying agent would have to pull.
      if (i % 5 === 4) await hub.engine.flush();
    }
    await hub.engine.flush();
    const queuedMessages = (await subjectMessages(nc)) - messagesBefore;
    const replayBytes = ((await api.region(REGION)).body as { bytesSent: number }).bytesSent - sentBefore;
    expect(queuedMessages, 'a backlog long enough to ask about').toBeGreaterThan(16);

    agent = await spawnAgent(nats.url, REGION, stateDir);
    await waitConverged(hub.url, agent.statusUrl, REGION);
    const s = await status(agent);
    expect(s.sync.catchUps, String(s.sync.lastError)).toBe(1);
    expect(s.sync.rejected).toBe(0);
    // One delta (and what followed it), not the queue: a fraction of its messages and bytes.
    expect(s.sync.messagesReceived).toBeLessThan(queuedMessages / 4);
    expect(s.sync.bytesReceived).toBeLessThan(replayBytes / 4);
  });

  it('catch-up - one garbage message costs one resync, in the middle of the chain or at its end', async () => {
    printLogsOnFailure(nats);
    const js = jetstream(nc);
    const before = await status(agent);
    // At the end of the chain: the agent holds the head, so it just goes on past it.
    await js.publish(syncSubject(REGION), new TextEncoder().encode('garbage at the end'));
    await waitFor(async () => (await status(agent)).sync.rejected > before.sync.rejected || undefined, {
      what: 'the agent to reject the garbage',
    });
    await putResource(hub.url, rollingStep(500));
    await waitConverged(hub.url, agent.statusUrl, REGION);
    // In the middle: garbage, then real changes behind it.
    await js.publish(syncSubject(REGION), new TextEncoder().encode('garbage in the middle'));
    await putResource(hub.url, rollingStep(501));
    await putResource(hub.url, rollingStep(502));
    await waitConverged(hub.url, agent.statusUrl, REGION);
    // Long enough for a loop of rejects and resyncs to show, if there were one.
    await new Promise((r) => setTimeout(r, 3_000));
    await putResource(hub.url, rollingStep(503));
    await waitConverged(hub.url, agent.statusUrl, REGION);
    const after = await status(agent);
    expect(after.sync.rejected - before.sync.rejected).toBe(2);
    expect(after.sync.resyncs - before.sync.resyncs).toBe(2);
  });
});

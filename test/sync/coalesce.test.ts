/**
 * Coalescing under throttle on a real nats-server, the hub in process and the agent as its own
 * process: while the region's queue takes longer than `--coalesce-after` to drain at its budget,
 * the hub holds the region's intermediate states, and the agent converges to the latest one
 * without ever being sent most of them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, type Resource, sampleMesh } from '@fedmesh/shared';
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
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

const REGION = 'eu-west';
const STEPS = 120;

interface Summary {
  deltasSent: number;
  line: { coalescedRounds: number; holdingSince: string | null };
}

/** A rolling restart of a 40-replica `frontend`: every step moves one replica to a new address. */
function rollingStep(i: number): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: `frontend-${REGION}`, namespace: 'shop' },
    spec: {
      service: 'frontend',
      region: REGION,
      endpoints: Array.from({ length: 40 }, (_, j) => ({
        address: `10.${20 + j}.${j <= i % 40 ? Math.floor(i / 40) + 1 : Math.floor(i / 40)}.${j + 1}`,
        port: 8080,
        zone: `${REGION}-${'abc'[j % 3]}`,
      })),
    },
  } as Resource;
}

describe('coalescing under throttle', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let agent: AgentProcess;
  const stateDir = mkdtempSync(join(tmpdir(), `fedmesh-coalesce-${REGION}-`));

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url, { coalesceAfter: '1s' });
    for (const r of sampleMesh()) await putResource(hub.url, r);
    agent = await spawnAgent(nats.url, REGION, stateDir);
    await waitConverged(hub.url, agent.statusUrl, REGION);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    removeDir(stateDir);
    await hub?.stop();
    await nats?.cleanup();
  });

  it('coalesce - a region behind its budget is sent far fewer states than were written, and ends on the latest', async () => {
    printLogsOnFailure(nats);
    const api = hubClient(hub.url);
    const region = sampleMesh().find((r) => r.kind === 'Region' && r.metadata.name === REGION)!;
    await putResource(hub.url, {
      ...region,
      spec: { ...(region.spec as object), link: { budget: '2KiB/s', burst: '4KiB' } },
    } as Resource);
    await waitConverged(hub.url, agent.statusUrl, REGION);
    const before = (await api.region(REGION)).body as Summary;
    const received = (await agentStatus(agent.statusUrl)) as unknown as {
      sync: { messagesReceived: number };
    };

    // Every step its own publication round: without coalescing, each would be a delta on the line.
    let heldAtSomePoint = false;
    for (let i = 0; i < STEPS; i++) {
      await putResource(hub.url, rollingStep(i));
      await hub.engine.flush();
      if (i % 10 === 9)
        heldAtSomePoint ||= ((await api.region(REGION)).body as Summary).line.holdingSince !== null;
    }
    expect(heldAtSomePoint, 'the hub held the region while its queue drained').toBe(true);
    await waitConverged(hub.url, agent.statusUrl, REGION, 120_000);

    const after = (await api.region(REGION)).body as Summary;
    const deltas = after.deltasSent - before.deltasSent;
    expect(after.line.coalescedRounds - before.line.coalescedRounds).toBeGreaterThan(STEPS / 2);
    expect(deltas, 'superseded states were not sent').toBeLessThan(STEPS / 3);
    expect(deltas).toBeGreaterThan(0);
    const s = (await agentStatus(agent.statusUrl)) as unknown as {
      sync: { messagesReceived: number; rejected: number };
    };
    expect(s.sync.rejected).toBe(0);
    expect(s.sync.messagesReceived - received.sync.messagesReceived).toBeLessThan(STEPS / 3);
    // Once the queue drained the hold ends by itself.
    expect(after.line.holdingSince).toBeNull();
  }, 180_000);
});

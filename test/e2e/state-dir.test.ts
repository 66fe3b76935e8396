/**
 * An agent started on another region's state dir refuses to start, naming both regions, and
 * leaves that region's saved view as it was (real nats-server, agents in process).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { sampleMesh } from '@fedmesh/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { hubClient, removeDir, startTestAgent, startTestHub, waitConverged } from '../support/fedmesh.js';
import { type NatsServerHandle, startNatsServer } from '../support/nats.js';

describe('state dirs', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let stateDir = '';

  afterAll(async () => {
    await hub?.stop();
    await nats?.cleanup();
    removeDir(stateDir);
  });

  it("state dir - an agent refuses another region's state dir, naming both, and changes nothing in it", async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    const eu = await startTestAgent(nats.url, 'eu-west');
    stateDir = eu.stateDir;
    await waitConverged(hub.url, eu.statusUrl, 'eu-west');
    await eu.stop();
    const saved = readFileSync(join(stateDir, 'view.json'), 'utf8');

    await expect(startTestAgent(nats.url, 'us-east', { stateDir })).rejects.toThrow(
      /holds the state of region eu-west, not us-east/,
    );
    expect(readFileSync(join(stateDir, 'view.json'), 'utf8')).toBe(saved);
  });
});

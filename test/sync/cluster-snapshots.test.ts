import type { RunningHub } from '@fedmesh/hub';
import { type Resource, SYNC_STREAM, sampleMesh, syncSubject } from '@fedmesh/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  hubClient,
  removeDir,
  startTestAgent,
  startTestHub,
  type TestAgent,
  waitConverged,
} from '../support/fedmesh.js';
import { poorlyCompressingService } from '../support/fixtures.js';
import { type NatsCluster, printLogsOnFailure, startNatsCluster } from '../support/nats.js';

/** 200 endpoints in ap-south that compress poorly: a snapshot of a few 1 KiB chunks. */
function bulk(): Resource[] {
  return poorlyCompressingService('ap-south', 200);
}

async function subjectMessages(urls: string[], region: string): Promise<number> {
  const nc = await connect({ servers: urls });
  try {
    const si = await (await jetstreamManager(nc)).streams.info(SYNC_STREAM, {
      subjects_filter: syncSubject(region),
    });
    return si.state.subjects?.[syncSubject(region)] ?? 0;
  } finally {
    await nc.close();
  }
}

describe('multi-chunk snapshots on a cluster', () => {
  let cluster: NatsCluster | undefined;
  let hub: RunningHub | undefined;
  let agent: TestAgent | undefined;

  afterAll(async () => {
    await agent?.stop();
    if (agent) removeDir(agent.stateDir);
    await hub?.stop();
    await cluster?.cleanup();
  });

  it('sync - a snapshot of several chunks asked for again at the same version is the copy on the stream, and the agent gets it', async () => {
    cluster = await startNatsCluster(3);
    for (const s of cluster.servers) printLogsOnFailure(s);
    hub = await startTestHub(cluster.urls.join(','), { replicas: '3', chunkSize: '1KiB' });
    const api = hubClient(hub.url);
    for (const r of [...sampleMesh(), ...bulk()]) {
      const res = await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
      expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
    }
    await hub.engine.flush();
    const first = await hub.engine.publishSnapshot('ap-south');
    const onStream = await subjectMessages(cluster.urls, 'ap-south');
    // Asked again at the same version: the same messages, all duplicates of the first copy.
    const again = await hub.engine.publishSnapshot('ap-south');
    expect(again).toEqual(first);
    expect(await subjectMessages(cluster.urls, 'ap-south')).toBe(onStream);
    expect(onStream).toBeGreaterThan(2);

    // And what an agent's first resync asks for is that snapshot.
    agent = await startTestAgent(cluster.urls[0]!, 'ap-south');
    await waitConverged(hub.url, agent.statusUrl, 'ap-south', 30_000);
    expect(agent.status().sync.rejected).toBe(0);
  }, 120_000);
});

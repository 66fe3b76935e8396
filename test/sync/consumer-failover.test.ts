/**
 * The server holding an agent's pull dies (kill -9 of its consumer's leader, on a 3-node cluster
 * with --replicas 3) while the region's chain is moving. The pull dies with it and nobody says so:
 * the agent used to notice only after two missed 30 s idle heartbeats, and stood still for 60 to
 * 90 s (issue 16's chaos suite, every run). A pull that is not known to be on a quiet line is now
 * short and watched at a heartbeat a second, so the agent moves on within seconds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { RunningHub } from '@fedmesh/hub';
import { agentDurableName, SYNC_STREAM, sampleMesh } from '@fedmesh/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { eps } from '../../hub/src/scope/test-fixtures.js';
import {
  hubClient,
  removeDir,
  startTestAgent,
  startTestHub,
  type TestAgent,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsCluster, printLogsOnFailure, startNatsCluster } from '../support/nats.js';

/** Where the agent's durable consumer is led from. */
async function consumerLeader(urls: string[], region: string): Promise<string | undefined> {
  const nc = await connect({ servers: urls });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.consumers.info(SYNC_STREAM, agentDurableName(region))).cluster?.leader;
  } finally {
    await nc.close();
  }
}

/** Asks the consumer's leader to step down, so that another member leads it. */
async function stepDown(urls: string[], region: string): Promise<void> {
  const nc = await connect({ servers: urls });
  try {
    await nc.request(`$JS.API.CONSUMER.LEADER.STEPDOWN.${SYNC_STREAM}.${agentDurableName(region)}`, '', {
      timeout: 5_000,
    });
  } finally {
    await nc.close();
  }
}

describe('an agent whose consumer leader dies', () => {
  let cluster: NatsCluster | undefined;
  let hub: RunningHub | undefined;
  let agent: TestAgent | undefined;

  afterAll(async () => {
    await agent?.stop();
    if (agent) removeDir(agent.stateDir);
    await hub?.stop();
    await cluster?.cleanup();
  });

  it('sync - kill -9 of the server leading the agent consumer stalls the region for seconds, not a minute', async () => {
    cluster = await startNatsCluster(3);
    for (const s of cluster.servers) printLogsOnFailure(s);
    hub = await startTestHub(cluster.urls.join(','), { replicas: '3' });
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);

    // The agent talks to the first member; its consumer must be led by another one, so that the
    // kill takes the pull and not the agent's connection.
    const home = cluster.servers[0]!;
    agent = await startTestAgent(home.url, 'eu-west');
    await waitConverged(hub.url, agent.statusUrl, 'eu-west', 60_000);
    // Right after a step-down the consumer has no leader for a moment: ask until it names one.
    const leaderNow = () =>
      waitFor(() => consumerLeader(cluster!.urls, 'eu-west'), {
        what: 'the agent consumer to have a leader',
      });
    let leader = await leaderNow();
    for (let i = 0; leader === home.name && i < 10; i++) {
      await stepDown(cluster.urls, 'eu-west');
      await sleep(500);
      leader = await leaderNow();
    }
    const victim = cluster.servers.find((s) => s.name === leader);
    expect(victim, `consumer leader ${leader}`).toBeDefined();
    expect(victim).not.toBe(home);

    // The chain keeps moving while its pull dies: a write every 100 ms. Writes refused while the
    // cluster elects leaders (503) are counted, not fatal: the writer goes on.
    let writing = true;
    let n = 0;
    let refused = 0;
    const writer = (async () => {
      while (writing) {
        const res = await api
          .put('ServiceEndpoints', 'shop', 'frontend-eu-west', eps('frontend', 'eu-west', 1 + (++n % 5)))
          .catch(() => ({ status: 0 }));
        if (res.status !== 200 && res.status !== 201) refused++;
        await sleep(100);
      }
    })();
    await waitFor(() => agent!.status().version > 0 && n > 5, { what: 'the writes to flow' });
    await victim!.kill();
    const killedAt = Date.now();
    const before = agent.status().version;
    // Time to notice the lost pull (seconds), and for the cluster to elect new leaders before the
    // consumer can be recreated (5 to 15 s on a busy 2-core box, when the dead member led the
    // meta layer too); before the fix, two missed 30 s heartbeats came first (60 to 90 s).
    await waitFor(() => agent!.status().version > before + 5, {
      what: 'the agent to apply new versions after its consumer leader died',
      timeoutMs: 45_000,
    }).catch(async (err) => {
      const hubView = await api.view('eu-west').catch(() => undefined);
      writing = false;
      throw new Error(
        `${(err as Error).message}: agent at version ${agent!.status().version} (was ${before}), hub view at ${hubView?.body?.version}; ${n} writes, ${refused} refused`,
      );
    });
    const movedAfterMs = Date.now() - killedAt;
    writing = false;
    await writer;
    await waitConverged(hub.url, agent.statusUrl, 'eu-west', 20_000);
    console.log(
      `consumer failover: the agent applied again ${movedAfterMs} ms after its consumer leader was killed`,
    );
    expect(movedAfterMs).toBeLessThan(45_000);
    await victim!.restart();
  }, 180_000);
});

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type JetStreamClient, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { expect, onTestFinished, test } from 'vitest';
import { printLogsOnFailure, startHubAndLeafs, startNatsCluster, startNatsServer } from './nats.js';

/** A connection closed when the test ends, whatever its outcome. */
async function connectFor(servers: string | string[]): Promise<NatsConnection> {
  const nc = await connect({ servers });
  onTestFinished(() => nc.close());
  return nc;
}

/** Retry `attempt` until it succeeds or 15 s pass: leader elections after a node loss take seconds. */
async function eventually<T>(attempt: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(250);
    }
  }
}

/** A message id makes retries safe: an attempt whose ack was lost may still have been stored. */
function publishEventually(js: JetStreamClient, subject: string, data: string, msgID: string) {
  return eventually(() => js.publish(subject, data, { msgID, timeout: 2_000 }));
}

/** Each test's time budget; the cluster test spends most of it waiting for a leader election. */
const budget = { timeout: 20_000 };

test(
  'harness - a single server accepts JetStream streams and survives a restart with its store',
  budget,
  async () => {
    const nats = await startNatsServer();
    onTestFinished(() => nats.cleanup());
    printLogsOnFailure(nats);

    const before = await connect({ servers: nats.url });
    await (await jetstreamManager(before)).streams.add({ name: 'HARNESS', subjects: ['harness.>'] });
    await jetstream(before).publish('harness.greeting', 'hello');
    await before.close();

    await nats.restart();

    const nc = await connectFor(nats.url);
    const stored = await (await jetstreamManager(nc)).streams.getMessage('HARNESS', { seq: 1 });
    expect(stored?.string()).toBe('hello');
    expect(existsSync(join(nats.storeDir, 'jetstream'))).toBe(true);
    expect(nats.logs()).toContain('restart');
  },
);

test(
  'harness - a 3-node cluster elects a leader and keeps an R3 stream across the loss of one node',
  budget,
  async () => {
    const cluster = await startNatsCluster(3);
    onTestFinished(() => cluster.cleanup());
    printLogsOnFailure(...cluster.servers);

    const nc = await connectFor(cluster.urls);
    const jsm = await jetstreamManager(nc);
    const created = await jsm.streams.add({ name: 'HARNESS_R3', subjects: ['r3.>'], num_replicas: 3 });
    expect(created.cluster?.replicas).toHaveLength(2);
    const js = jetstream(nc);
    await publishEventually(js, 'r3.event', 'before', 'before');

    // Losing the stream leader is the harder case: the survivors must elect a new one.
    const leaderName = (await jsm.streams.info('HARNESS_R3')).cluster?.leader;
    const leader = cluster.servers.find((s) => s.name === leaderName);
    expect(leader).toBeDefined();
    await leader!.kill();

    const ack = await publishEventually(js, 'r3.event', 'after', 'after');
    expect(ack.seq).toBe(2);
    // The meta leader may have been on the lost node too, and it answers stream info.
    const info = await eventually(() => jsm.streams.info('HARNESS_R3'));
    expect(info.cluster?.leader).toBeDefined();
    expect(info.cluster?.leader).not.toBe(leaderName);
    expect(info.state.messages).toBe(2);
    const first = await jsm.streams.getMessage('HARNESS_R3', { seq: 1 });
    expect(first?.string()).toBe('before');
  },
);

test("harness - a client of a leaf server reaches the hub domain's stream", budget, async () => {
  const topology = await startHubAndLeafs(['eu', 'us']);
  onTestFinished(() => topology.cleanup());
  printLogsOnFailure(topology.hub, ...Object.values(topology.leafs));

  const hubNc = await connectFor(topology.hub.url);
  const hubJsm = await jetstreamManager(hubNc);
  await hubJsm.streams.add({ name: 'HARNESS_SYNC', subjects: ['harness.sync.>'] });

  // An edge agent in eu talks only to its leaf server; the hub's JetStream is addressed by domain.
  const euNc = await connectFor(topology.leafs.eu!.url);
  const hubFromEu = jetstream(euNc, { domain: 'hub' });
  const ack = await hubFromEu.publish('harness.sync.eu', 'delta-1');
  expect(ack).toMatchObject({ stream: 'HARNESS_SYNC', domain: 'hub', seq: 1 });
  const consumer = await hubFromEu.consumers.get('HARNESS_SYNC');
  const msg = await consumer.next({ expires: 5_000 });
  expect(msg?.string()).toBe('delta-1');

  // The leaf's own JetStream is a separate domain: its streams are not the hub's.
  const euJsm = await jetstreamManager(euNc);
  expect((await euJsm.getAccountInfo()).domain).toBe('eu');
  await euJsm.streams.add({ name: 'HARNESS_EU_STATE', subjects: ['harness.eu.state'] });
  const euStreams = await euJsm.streams.names().next();
  expect(euStreams).toEqual(['HARNESS_EU_STATE']);
  await expect(hubJsm.streams.info('HARNESS_EU_STATE')).rejects.toThrow(/stream not found/);
  const euFromHub = await jetstreamManager(hubNc, { domain: 'eu' });
  expect((await euFromHub.streams.info('HARNESS_EU_STATE')).config.name).toBe('HARNESS_EU_STATE');
});

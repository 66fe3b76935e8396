import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, decodeBody, MessageType, SYNC_STREAM, sampleMesh, syncSubject } from '@fedmesh/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  hubClient,
  removeDir,
  startTestAgent,
  startTestHub,
  type TestAgent,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

/** Walks a region's subject from the start and counts deltas that do not continue the chain. */
async function chainBreaks(natsUrl: string, region: string): Promise<{ messages: number; breaks: number }> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const last = (await jsm.streams.info(SYNC_STREAM)).state.last_seq;
  let held = 0;
  let messages = 0;
  let breaks = 0;
  for (let seq = 1; seq <= last; seq++) {
    const m = await jsm.streams.getMessage(SYNC_STREAM, { seq }).catch(() => null);
    if (!m || m.subject !== syncSubject(region)) continue;
    messages++;
    const { meta } = decodeBody(region, m.data);
    if (meta.chunk.index !== meta.chunk.count) continue;
    if (meta.type === MessageType.Snapshot) held = Math.max(held, meta.toVersion);
    else if (meta.toVersion > held) {
      if (meta.fromVersion !== held) breaks++;
      held = meta.toVersion;
    }
  }
  await nc.close();
  return { messages, breaks };
}

describe('two hub replicas on one NATS', () => {
  let nats: NatsServerHandle;
  const hubs: RunningHub[] = [];
  let agent: TestAgent;

  afterAll(async () => {
    await agent?.stop();
    if (agent) removeDir(agent.stateDir);
    for (const h of hubs) await h.stop();
    await nats?.cleanup();
  });

  it('sync - two hubs publishing at once never break a region chain', async () => {
    nats = await startNatsServer();
    printLogsOnFailure(nats);
    hubs.push(await startTestHub(nats.url), await startTestHub(nats.url, { debounce: '35ms' }));
    const apis = hubs.map((h) => hubClient(h.url));
    for (const r of sampleMesh()) await apis[0]!.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    agent = await startTestAgent(nats.url, 'eu-west');

    // Writes through both hubs, interleaved and concurrent, each changing eu-west's view.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        apis[i % 2]!.put('ServiceEndpoints', 'shop', 'frontend-eu-west', {
          apiVersion: API_VERSION,
          kind: 'ServiceEndpoints',
          metadata: { name: 'frontend-eu-west', namespace: 'shop' },
          spec: {
            service: 'frontend',
            region: 'eu-west',
            endpoints: [{ address: `10.1.1.${i + 1}`, port: 8080 }],
          },
        }),
      ),
    );
    for (const h of hubs) await h.engine.flush();
    const views = await Promise.all(apis.map(async (a) => (await a.view('eu-west')).body));
    expect(views[0].hash).toBe(views[1].hash);
    await waitFor(async () => agent.status().hash === views[0].hash, {
      what: 'the agent to reach the hubs view',
    });
    const chain = await chainBreaks(nats.url, 'eu-west');
    expect(agent.status().sync.rejected, String(agent.status().sync.lastError)).toBe(0);
    expect(chain.messages).toBeGreaterThan(1);
    expect(chain.breaks).toBe(0);
  }, 60_000);
});

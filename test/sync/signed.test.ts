/**
 * Signed sync on a real nats-server, the hub in process with `--signing-key`, the agent as its
 * own process. The attacker is any client with publish rights on the region's subject: it
 * publishes a self-consistent forged delta and a forged snapshot at version 10^9. Neither is
 * served, the hub does not mistake the forged head for another replica ahead of it, and a key
 * rotation completes while the agent runs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import {
  API_VERSION,
  Codec,
  canonicalJson,
  compress,
  encodeBody,
  generateSigningKey,
  MessageType,
  publicKeyPem,
  type Resource,
  sampleMesh,
  syncSubject,
  type ViewResource,
  viewHash,
} from '@fedmesh/shared';
import { jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const REGION = 'eu-west';

interface Status {
  version: number;
  hash: string;
  resources: number;
  sync: { rejected: number };
  trust: { mode: string; keys: string[] };
}
const status = async (a: AgentProcess) => (await agentStatus(a.statusUrl)) as unknown as Status;

function endpoints(i: number): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: `frontend-${REGION}`, namespace: 'shop' },
    spec: { service: 'frontend', region: REGION, endpoints: [{ address: `10.7.0.${i}`, port: 8080 }] },
  } as Resource;
}

describe('signed sync over a real nats-server', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let nc: NatsConnection;
  let agent: AgentProcess;
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-signed-'));
  const keyFile = join(dir, 'hub.pem');
  const stateDir = join(dir, 'agent');

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url, { signingKey: keyFile });
    nc = await connect({ servers: nats.url });
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    agent = await spawnAgent(nats.url, REGION, stateDir);
    await waitConverged(hub.url, agent.statusUrl, REGION);
  }, 90_000);

  afterAll(async () => {
    await agent?.stop();
    await nc?.close();
    await hub?.stop();
    await nats?.cleanup();
    removeDir(dir);
  });

  /** The view the agent holds, as the hub serves it, with every endpoint moved to the attacker. */
  const forgedView = async () => {
    const view = (await hubClient(hub.url).view(REGION)).body as {
      version: number;
      hash: string;
      resources: Record<string, ViewResource>;
    };
    const resources = JSON.parse(JSON.stringify(view.resources)) as Record<string, ViewResource>;
    for (const r of Object.values(resources)) {
      const eps = (r.spec as { endpoints?: { address: string }[] }).endpoints;
      for (const e of eps ?? []) e.address = '203.0.113.66';
    }
    resources['Service/evil/exfil'] = {
      apiVersion: API_VERSION,
      kind: 'Service',
      metadata: { name: 'exfil', namespace: 'evil' },
      spec: { ports: [{ name: 'http', port: 80, protocol: 'http' }] },
    } as ViewResource;
    return { view, resources };
  };

  it('signed - the agent pins the hub key on first use and reports it', async () => {
    const s = await status(agent);
    expect(s.trust.mode).toBe('first-use');
    expect(s.trust.keys).toHaveLength(1);
  });

  it('signed - a forged self-consistent delta and a forged snapshot at version 10^9 are never served; the hub repairs the region', async () => {
    printLogsOnFailure(nats);
    const js = jetstream(nc);
    const attacker = generateSigningKey();
    const before = await status(agent);

    // A delta whose to-hash is right for the forged view it makes: signed by the attacker's key.
    const { view, resources } = await forgedView();
    const ops = [{ op: 'replace', path: '', value: resources }];
    const raw = new TextEncoder().encode(canonicalJson({ ops }));
    const meta = {
      type: MessageType.Delta,
      region: REGION,
      fromVersion: view.version,
      toVersion: view.version + 1,
      toHash: viewHash(resources),
      codec: Codec.Brotli,
      chunk: { index: 1, count: 1 },
      rawSize: raw.byteLength,
    };
    await js.publish(syncSubject(REGION), encodeBody(meta, await compress(Codec.Brotli, raw), attacker));
    // And an unsigned snapshot of the same forged view at version 10^9.
    const snap = new TextEncoder().encode(canonicalJson({ resources }));
    await js.publish(
      syncSubject(REGION),
      encodeBody(
        {
          ...meta,
          type: MessageType.Snapshot,
          fromVersion: 0,
          toVersion: 1_000_000_000,
          codec: Codec.Identity,
          rawSize: snap.byteLength,
        },
        snap,
      ),
    );
    await waitFor(async () => (await status(agent)).sync.rejected >= before.sync.rejected + 2 || undefined, {
      what: 'the agent to reject both forgeries',
    });
    const held = await status(agent);
    expect(held.hash).toBe(before.hash);
    expect(held.version).toBe(before.version);

    // The hub keeps the region in sync: a real change after the forged head reaches the agent.
    await hubClient(hub.url).put('ServiceEndpoints', 'shop', `frontend-${REGION}`, endpoints(9));
    const hash = await waitConverged(hub.url, agent.statusUrl, REGION);
    const after = await status(agent);
    expect(after.hash).toBe(hash);
    expect(after.version).toBeLessThan(1_000_000_000);
    const head = (await hubClient(hub.url).region(REGION)).body as { desired: { version: number } };
    expect(head.desired.version).toBe(after.version);
    const served = (await hubClient(hub.url).view(REGION)).body as { resources: Record<string, unknown> };
    expect(served.resources['Service/evil/exfil']).toBeUndefined();
  });

  it('signed - a key rotation completes with the agent running: the new key is announced signed by the old one', async () => {
    printLogsOnFailure(nats);
    const old = (await status(agent)).trust.keys;
    await hub.stop();
    const newKeyFile = join(dir, 'hub-2.pem');
    hub = await startTestHub(nats.url, { signingKey: newKeyFile, previousSigningKey: keyFile });
    await hubClient(hub.url).put('ServiceEndpoints', 'shop', `frontend-${REGION}`, endpoints(10));
    await waitConverged(hub.url, agent.statusUrl, REGION, 60_000);
    const s = await status(agent);
    expect(s.trust.keys).toHaveLength(2);
    expect(s.trust.keys).toEqual(expect.arrayContaining(old));
  });

  it('signed - an agent whose --trust lists another key accepts nothing from this hub', async () => {
    const strangerTrust = join(dir, 'stranger.pem');
    writeFileSync(strangerTrust, publicKeyPem(generateSigningKey().publicKey));
    const other = await spawnAgent(nats.url, 'us-east', join(dir, 'us-east'), ['--trust', strangerTrust]);
    try {
      await waitFor(async () => ((await status(other)).sync.rejected > 0 ? true : undefined), {
        what: 'us-east to reject the hub messages',
      });
      const s = await status(other);
      expect(s.trust.mode).toBe('configured');
      expect(s.version).toBe(0);
      expect(s.resources).toBe(0);
    } finally {
      await other.stop();
    }
  });
});

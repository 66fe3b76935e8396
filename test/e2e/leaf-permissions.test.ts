/**
 * The sealed leaf connection, as deploy/nats documents it, on real servers: the hub's nats-server
 * (JetStream domain `hub`) with the shipped accounts.conf, and region eu-west's own nats-server
 * joined to it as a leaf node with the leaf-eu-west credentials. The eu-west agent syncs through
 * it; an attacker with full access to the region's leaf server (every local subject, any
 * consumer request) reads nothing of other regions and forges nothing for them.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { agentInboxPrefix, SYNC_STREAM, sampleMesh, statusSubject, syncSubject } from '@fedmesh/shared';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection, nkeys } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AgentProcess,
  agentStatus,
  hubClient,
  removeDir,
  spawnAgent,
  startTestHub,
  waitConverged,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

describe('a region leaf node confined by deploy/nats/accounts.conf', () => {
  const started: NatsServerHandle[] = [];
  const connections: NatsConnection[] = [];
  let hub: RunningHub | undefined;
  let agent: AgentProcess | undefined;
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-leaf-permissions-'));

  afterAll(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
    await agent?.stop();
    await hub?.stop();
    for (const s of started.reverse()) await s.cleanup();
    removeDir(dir);
  });

  it('leaf permissions - the agent syncs over its leaf; a leaf server in hostile hands sees and forges nothing of other regions', async () => {
    process.env.HUB_PASSWORD = 'hub-secret';
    process.env.AGENT_EU_WEST_NKEY = nkeys.createUser().getPublicKey();
    process.env.LEAF_EU_WEST_PASSWORD = 'leaf-secret';
    const hubNats = await startNatsServer({
      name: 'hub',
      domain: 'hub',
      leafListen: true,
      extraConfig: readFileSync('deploy/nats/accounts.conf', 'utf8'),
      auth: { user: 'hub', pass: 'hub-secret' },
    });
    started.push(hubNats);
    printLogsOnFailure(hubNats);
    const leaf = await startNatsServer({
      name: 'eu-west',
      domain: 'eu-west',
      leafRemotes: [hubNats.leafUrl!.replace('nats-leaf://', 'nats-leaf://leaf-eu-west:leaf-secret@')],
    });
    started.push(leaf);

    hub = await startTestHub(hubNats.url.replace('nats://', 'nats://hub:hub-secret@'), {
      signingKey: join(dir, 'hub.pem'),
    });
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    agent = await spawnAgent(leaf.url, 'eu-west', join(dir, 'agent'), ['--hub-domain', 'hub']);
    await waitConverged(hub.url, agent.statusUrl, 'eu-west', 60_000);
    expect(((await agentStatus(agent.statusUrl)) as unknown as { trust: { mode: string } }).trust.mode).toBe(
      'first-use',
    );

    // The attacker: the leaf server's own clients are unrestricted.
    // Its own replies come to a prefix of its own, so `_INBOX.>` shows only other connections'.
    const nc = await connect({ servers: leaf.url, inboxPrefix: '_ATTACKER' });
    connections.push(nc);
    const seen: string[] = [];
    for (const subject of [
      syncSubject('us-east'),
      'fedmesh.>',
      '_INBOX.>',
      `${agentInboxPrefix('us-east')}.>`,
      '$KV.fedmesh_config.>',
      '$JS.ACK.FEDMESH_SYNC.>',
    ]) {
      nc.subscribe(subject, {
        callback: (_err, m) => {
          // Its own region's traffic on its own server is the region's: not what is sealed.
          if (!m.subject.endsWith('.eu-west') && !m.subject.startsWith('$JS.hub.API.')) seen.push(m.subject);
        },
      });
    }
    const jsm = await jetstreamManager(nc, { domain: 'hub', checkAPI: false, timeout: 1_500 });
    for (const filter of [syncSubject('us-east'), 'fedmesh.sync.*', 'fedmesh.>']) {
      await expect(
        jsm.consumers.add(SYNC_STREAM, {
          durable_name: 'fedmesh-agent-eu-west-x',
          filter_subject: filter,
          ack_policy: AckPolicy.Explicit,
        }),
      ).rejects.toThrow();
    }
    await expect(jsm.consumers.info(SYNC_STREAM, 'fedmesh-agent-us-east')).rejects.toThrow();
    await expect(jsm.streams.info(SYNC_STREAM)).rejects.toThrow();
    // Meanwhile the hub keeps publishing for every region (a change reaching all of them).
    const probe = {
      apiVersion: 'fedmesh.io/v1',
      kind: 'Service',
      metadata: { name: 'probe', namespace: 'shop' },
      spec: { ports: [{ name: 'http', port: 80, protocol: 'http' }] },
    };
    expect((await api.put('Service', 'shop', 'probe', probe)).status).toBe(201);
    await waitConverged(hub.url, agent.statusUrl, 'eu-west', 60_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seen, 'nothing of other regions or of the hub crossed the leaf').toEqual([]);

    // Forgeries for us-east: a sync message and a status report.
    nc.publish(syncSubject('us-east'), 'forged');
    nc.publish(statusSubject('us-east'), JSON.stringify({ region: 'us-east', version: 1e9, hash: 'x' }));
    await nc.flush();
    await new Promise((r) => setTimeout(r, 1_000));

    // On the hub side nothing of the forgeries landed.
    const hubSide = await connect({ servers: hubNats.url, user: 'hub', pass: 'hub-secret' });
    connections.push(hubSide);
    const last = await (await jetstreamManager(hubSide)).streams
      .getMessage(SYNC_STREAM, { last_by_subj: syncSubject('us-east') })
      .catch(() => null);
    expect(last === null || new TextDecoder().decode(last.data) !== 'forged').toBe(true);
    const usEast = (await api.region('us-east')).body as { applied: unknown };
    expect(usEast.applied).toBeNull();
  }, 180_000);
});

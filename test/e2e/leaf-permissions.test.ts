/**
 * The sealed leaf connections, as deploy/nats documents them, on real servers: the hub's 3-node
 * JetStream cluster (domain `hub`) with the shipped accounts.conf (its per-region block repeated
 * for eu-west and us-east), and each region's own nats-server joined to it as a leaf node with
 * that region's leaf credentials. Both agents sync through their leaves, from a hub with
 * `--replicas 3`; an attacker with full access to eu-west's leaf server (every local subject,
 * any consumer request) reads nothing of us-east or the hub and forges nothing for them.
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
import {
  type NatsServerHandle,
  printLogsOnFailure,
  startNatsCluster,
  startNatsServer,
} from '../support/nats.js';

/** accounts.conf with its per-region block repeated for each region, as its comment says to. */
function accountsFor(regions: string[]): string {
  const text = readFileSync('deploy/nats/accounts.conf', 'utf8');
  const start = text.indexOf('      # ---- region eu-west');
  const end = text.indexOf('      # ---- end of region eu-west ----');
  if (start < 0 || end < 0) throw new Error('accounts.conf lost its per-region markers');
  const block = text.slice(start, end);
  const per = regions.map((r) =>
    block.replaceAll('eu-west', r).replaceAll('EU_WEST', r.toUpperCase().replaceAll('-', '_')),
  );
  return text.slice(0, start) + per.join('') + text.slice(end);
}

describe('region leaf nodes confined by deploy/nats/accounts.conf', () => {
  const started: NatsServerHandle[] = [];
  const connections: NatsConnection[] = [];
  let hub: RunningHub | undefined;
  const agents: AgentProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-leaf-permissions-'));

  afterAll(async () => {
    for (const nc of connections) await nc.close().catch(() => undefined);
    for (const a of agents) await a.stop();
    await hub?.stop();
    for (const s of started.reverse()) await s.cleanup();
    removeDir(dir);
  });

  it('leaf permissions - both agents sync over their leaves from a hub cluster; a leaf server in hostile hands sees and forges nothing of another region', async () => {
    process.env.HUB_PASSWORD = 'hub-secret';
    const regions = ['eu-west', 'us-east'];
    for (const r of regions) {
      const v = r.toUpperCase().replaceAll('-', '_');
      process.env[`AGENT_${v}_NKEY`] = nkeys.createUser().getPublicKey();
      process.env[`LEAF_${v}_PASSWORD`] = `leaf-secret-${r}`;
    }
    const cluster = await startNatsCluster(3, {
      domain: 'hub',
      leafListen: true,
      extraConfig: accountsFor(regions),
      auth: { user: 'hub', pass: 'hub-secret' },
    });
    started.push(...cluster.servers);
    for (const s of cluster.servers) printLogsOnFailure(s);
    const leafs: Record<string, NatsServerHandle> = {};
    for (const r of regions) {
      leafs[r] = await startNatsServer({
        name: r,
        domain: r,
        leafRemoteUrls: cluster.servers.map((s) =>
          s.leafUrl!.replace('nats-leaf://', `nats-leaf://leaf-${r}:leaf-secret-${r}@`),
        ),
      });
      started.push(leafs[r]!);
    }

    hub = await startTestHub(
      cluster.urls.map((u) => u.replace('nats://', 'nats://hub:hub-secret@')).join(','),
      {
        signingKey: join(dir, 'hub.pem'),
        replicas: '3',
      },
    );
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    for (const r of regions) {
      const a = await spawnAgent(leafs[r]!.url, r, join(dir, r), ['--hub-domain', 'hub']);
      agents.push(a);
      await waitConverged(hub.url, a.statusUrl, r, 60_000);
      expect(((await agentStatus(a.statusUrl)) as unknown as { trust: { mode: string } }).trust.mode).toBe(
        'first-use',
      );
    }
    const leaf = leafs['eu-west']!;

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
    for (const [i, r] of regions.entries()) await waitConverged(hub.url, agents[i]!.statusUrl, r, 60_000);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(seen, 'nothing of other regions or of the hub crossed the leaf').toEqual([]);

    // Forgeries for us-east: a sync message and a status report.
    nc.publish(syncSubject('us-east'), 'forged');
    nc.publish(statusSubject('us-east'), JSON.stringify({ region: 'us-east', version: 1e9, hash: 'x' }));
    await nc.flush();
    await new Promise((r) => setTimeout(r, 1_000));

    // On the hub side nothing of the forgeries landed.
    const hubSide = await connect({ servers: cluster.urls, user: 'hub', pass: 'hub-secret' });
    connections.push(hubSide);
    const last = await (await jetstreamManager(hubSide)).streams
      .getMessage(SYNC_STREAM, { last_by_subj: syncSubject('us-east') })
      .catch(() => null);
    expect(last === null || new TextDecoder().decode(last.data) !== 'forged').toBe(true);
    // us-east's real agent still reports its real view, not the forged 10^9.
    const usEast = (await api.region('us-east')).body as { applied: { version: number }; inSync: boolean };
    expect(usEast.applied.version).toBeLessThan(1e9);
    expect(usEast.inSync).toBe(true);
  }, 180_000);
});

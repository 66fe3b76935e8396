import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { agentInboxPrefix, sampleMesh, statusSubject, syncSubject } from '@fedmesh/shared';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, nkeys } from '@nats-io/transport-node';
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

// The shipped permissions (deploy/nats/accounts.conf) on a real server: the hub works, the
// eu-west agent works with its confined credentials, and those credentials reach nothing else.
describe('NATS permissions from deploy/nats/accounts.conf', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let agent: TestAgent | undefined;
  let keyDir: string | undefined;

  afterAll(async () => {
    await agent?.stop();
    if (agent) removeDir(agent.stateDir);
    await hub?.stop();
    await nats?.cleanup();
    if (keyDir) removeDir(keyDir);
  });

  it('permissions - a region agent syncs with its own credentials and can touch no other region', async () => {
    process.env.HUB_PASSWORD = 'hub-secret';
    // The agent's nkey: the public half in the server's config, the seed in its --nats-creds file.
    keyDir = mkdtempSync(join(tmpdir(), 'fedmesh-permissions-'));
    const user = nkeys.createUser();
    process.env.AGENT_EU_WEST_NKEY = user.getPublicKey();
    const seedFile = join(keyDir, 'agent-eu-west.nk');
    writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()), { mode: 0o600 });
    process.env.LEAF_EU_WEST_PASSWORD = 'leaf-secret';
    nats = await startNatsServer({
      extraConfig: readFileSync('deploy/nats/accounts.conf', 'utf8'),
      auth: { user: 'hub', pass: 'hub-secret' },
    });
    printLogsOnFailure(nats);
    const withUser = (user: string, pw: string) => nats.url.replace('nats://', `nats://${user}:${pw}@`);

    // A signing hub: the agent must read the key announcements with its confined credentials.
    hub = await startTestHub(withUser('hub', 'hub-secret'), { signingKey: join(keyDir, 'hub.pem') });
    const api = hubClient(hub.url);
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    agent = await startTestAgent(nats.url, 'eu-west', { natsCreds: seedFile });
    const { body: view } = await api.view('eu-west');
    await waitFor(() => agent!.status().hash === view.hash, {
      what: 'eu-west to sync with confined credentials',
    });
    expect(agent.status().trust.mode).toBe('first-use');
    // Its status reports reach the hub too.
    await waitFor(async () => (await api.region('eu-west')).body.inSync === true, {
      what: 'the hub to see eu-west in sync',
    });

    // The same credentials, as an attacker would use them: with the agent's own inbox prefix, so
    // that what is refused is refused by the permissions, not for want of a reply subject.
    const nc = await connect({
      servers: nats.url,
      authenticator: nkeyAuthenticator(user.getSeed()),
      inboxPrefix: agentInboxPrefix('eu-west'),
    });
    const errors: string[] = [];
    (async () => {
      for await (const s of nc.status()) if (s.type === 'error') errors.push(String(s.error));
    })();
    const denied = [
      syncSubject('us-east'),
      'fedmesh.>',
      '_INBOX.>',
      `${agentInboxPrefix('us-east')}.>`,
      '$KV.fedmesh_config.>',
      '$JS.API.>',
    ];
    for (const subject of denied) nc.subscribe(subject);
    nc.publish(statusSubject('us-east'), '{}');
    // The legacy create API names no filter, so its config could ask for any: refused outright.
    nc.publish(
      '$JS.API.CONSUMER.DURABLE.CREATE.FEDMESH_SYNC.fedmesh-agent-eu-west',
      JSON.stringify({
        stream_name: 'FEDMESH_SYNC',
        config: { durable_name: 'fedmesh-agent-eu-west', filter_subject: 'fedmesh.sync.us-east' },
      }),
    );
    await nc.flush();
    await waitFor(() => errors.length >= denied.length + 2, { what: 'permission violations' });
    const all = errors.join('\n');
    for (const subject of denied) {
      expect(all).toContain(`Permissions Violation for Subscription to "${subject}"`);
    }
    expect(all).toMatch(/Permissions Violation for Publish to "fedmesh\.status\.us-east"/);
    expect(all).toMatch(/Permissions Violation for Publish to "\$JS\.API\.CONSUMER\.DURABLE\.CREATE/);

    // A consumer named like its own but filtered on another region, or on everything: refused.
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 1_500 });
    for (const filter of [syncSubject('us-east'), 'fedmesh.sync.*', 'fedmesh.>']) {
      for (const durable of ['fedmesh-agent-eu-west-x', 'fedmesh-agent-eu-west']) {
        await expect(
          jsm.consumers.add('FEDMESH_SYNC', {
            durable_name: durable,
            filter_subject: filter,
            ack_policy: AckPolicy.Explicit,
          }),
          `${durable} on ${filter}`,
        ).rejects.toThrow();
      }
    }
    await expect(jsm.consumers.info('FEDMESH_SYNC', 'fedmesh-agent-us-east')).rejects.toThrow();
    // Its own consumer is still on its own subject, and the agent still in sync.
    const own = await jsm.consumers.info('FEDMESH_SYNC', 'fedmesh-agent-eu-west');
    expect(own.config.filter_subject).toBe(syncSubject('eu-west'));
    await nc.close();
  });
});

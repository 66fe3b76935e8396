/**
 * One version, one view, through crashes: a churn driver writes through the hub's REST API while
 * the hub process and the nats-server are killed with SIGKILL and restarted, in turn. Afterwards:
 * every acknowledged write is in the store, the agent holds the hub's view, and no (region,
 * version) on the sync stream carries two hashes (DESIGN.md: "A version names exactly one view
 * ... also across hub restarts, NATS restarts and two hub replicas"). Bounded: six faults, each
 * side of them a few seconds of churn. The full chaos suite is issue 16's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalJson, decodeBody, type Resource, SYNC_STREAM, sampleMesh } from '@fedmesh/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { eps } from '../../hub/src/scope/test-fixtures.js';
import {
  type AgentProcess,
  freePort,
  hubClient,
  removeDir,
  spawnAgent,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

const FAULTS = 6;

/** Every (region, version) on the stream with the hashes it was published with. */
async function versionsWithTwoHashes(natsUrl: string): Promise<string[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(SYNC_STREAM)).state.last_seq;
    const hashes = new Map<string, Set<string>>();
    for (let seq = 1; seq <= last; seq++) {
      const m = await jsm.streams.getMessage(SYNC_STREAM, { seq }).catch(() => null);
      if (!m) continue;
      const region = m.subject.split('.').at(-1)!;
      const { meta } = decodeBody(region, m.data);
      const key = `${region}:${meta.toVersion}`;
      hashes.set(key, (hashes.get(key) ?? new Set()).add(meta.toHash));
    }
    return [...hashes].filter(([, h]) => h.size > 1).map(([k, h]) => `${k} ${[...h].join(' ')}`);
  } finally {
    await nc.close();
  }
}

describe('restarts', () => {
  let nats: NatsServerHandle;
  let hub: ChildProcess | undefined;
  let agent: AgentProcess | undefined;
  let stateDir: string | undefined;
  let hubOut = '';

  afterAll(async () => {
    hub?.kill('SIGKILL');
    await agent?.stop();
    if (stateDir) removeDir(stateDir);
    await nats?.cleanup();
  });

  it('restarts - kill -9 of hub and nats-server during churn loses no write and never gives a version two views', async () => {
    nats = await startNatsServer();
    printLogsOnFailure(nats);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const api = hubClient(url);
    const startHub = async () => {
      hub = spawn(
        process.execPath,
        [
          'hub/bin/fedmesh-hub.mjs',
          ...['--nats', nats.url, '--listen', `127.0.0.1:${port}`],
          ...['--debounce', '20ms', '--max-wait', '200ms', '--log-level', 'warn'],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      for (const s of [hub.stdout!, hub.stderr!]) s.on('data', (d) => (hubOut = (hubOut + d).slice(-20_000)));
      await waitFor(async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok, {
        what: 'the hub to answer /healthz after a (re)start',
        timeoutMs: 60_000,
      });
    };
    const killHub = async () => {
      const h = hub!;
      const gone = new Promise((r) => h.once('exit', r));
      h.kill('SIGKILL');
      await gone;
    };

    await startHub();
    for (const r of sampleMesh()) await api.put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
    stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-restarts-'));
    agent = await spawnAgent(nats.url, 'eu-west', stateDir);
    await waitConverged(url, agent.statusUrl, 'eu-west', 60_000);

    // The churn. At the end a key must hold its last acknowledged write, or one attempted after
    // it whose answer was lost to a crash (written, never acknowledged): nothing older.
    const acknowledged = new Map<string, Resource>();
    const attemptedSince = new Map<string, Resource[]>();
    let churning = true;
    let writes = 0;
    const churn = (async () => {
      for (let i = 0; churning; i++) {
        // Each write of a key changes its endpoint count, so each one is a change to publish.
        const r = i % 2 ? eps('frontend', 'eu-west', 1 + (i % 4)) : eps('payments', 'us-east', 1 + (i % 5));
        attemptedSince.set(r.metadata.name, [...(attemptedSince.get(r.metadata.name) ?? []), r]);
        try {
          const res = await fetch(`${url}/v1/resources/ServiceEndpoints/shop/${r.metadata.name}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(r),
            signal: AbortSignal.timeout(5_000),
          });
          await res.text();
          if (res.ok) {
            acknowledged.set(r.metadata.name, r);
            attemptedSince.set(r.metadata.name, []);
            writes++;
          }
        } catch {
          // the hub is down: not acknowledged, so nothing to check
        }
        await sleep(15);
      }
    })();

    for (let f = 0; f < FAULTS; f++) {
      await sleep(1_500);
      if (f % 2 === 0) {
        await killHub();
        await sleep(300);
        await startHub();
      } else {
        await nats.kill();
        await sleep(300);
        await nats.restart();
        await waitFor(
          async () => (await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2_000) })).ok,
          {
            what: 'the hub to be ready again after nats-server came back',
            timeoutMs: 60_000,
          },
        );
      }
    }
    await sleep(1_500);
    churning = false;
    await churn;

    console.log(
      `restarts: ${writes} acknowledged writes through ${FAULTS} kill -9 faults (hub, nats-server)`,
    );
    expect(writes).toBeGreaterThan(50);
    for (const [name, want] of acknowledged) {
      const got = await api.get('ServiceEndpoints', 'shop', name);
      expect(got.status, `${name}: ${hubOut.slice(-2000)}`).toBe(200);
      const allowed = [want, ...(attemptedSince.get(name) ?? [])].map((r) => canonicalJson(r.spec));
      expect(allowed, name).toContain(canonicalJson((got.body as Resource).spec));
    }
    await waitConverged(url, agent.statusUrl, 'eu-west', 60_000);
    expect(await versionsWithTwoHashes(nats.url)).toEqual([]);
  }, 240_000);
});

/**
 * A hub started while its JetStream cluster is short of members (issue 16: hubs exited 12 times
 * in 100 faults, on a NATS request timeout at start-up). It must not exit: it stays live
 * (`/livez` 200), says it is not ready and what it waits for (`/readyz` 503), retries, and
 * becomes ready once JetStream answers. Two members down is a cluster without a quorum, where
 * every JetStream request fails for as long as the test likes; one down is the chaos case, where
 * the hub must come up on the two left.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sampleMesh } from '@fedmesh/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, hubClient, removeDir, waitFor } from '../support/fedmesh.js';
import { type NatsCluster, printLogsOnFailure, startNatsCluster } from '../support/nats.js';

describe('hub start-up against a cluster short of a member', () => {
  let cluster: NatsCluster | undefined;
  let hub: ChildProcess | undefined;
  let out = '';
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-hub-startup-'));

  afterAll(async () => {
    hub?.kill('SIGKILL');
    await cluster?.cleanup();
    removeDir(dir);
  });

  const start = async (port: number) => {
    out = '';
    const proc = spawn(
      process.execPath,
      [
        'hub/bin/fedmesh-hub.mjs',
        ...['--nats', cluster!.urls.join(','), '--listen', `127.0.0.1:${port}`, '--replicas', '3'],
        ...['--log-level', 'info', '--signing-key', join(dir, 'hub.pem')],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    for (const s of [proc.stdout!, proc.stderr!]) s.on('data', (d) => (out = (out + d).slice(-50_000)));
    hub = proc;
    return proc;
  };
  const status = async (url: string) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    } catch {
      return undefined;
    }
  };

  it('hub - started while JetStream cannot answer, it waits live and not ready, and serves once JetStream does', async () => {
    cluster = await startNatsCluster(3);
    for (const s of cluster.servers) printLogsOnFailure(s);
    const missing = cluster.servers.slice(1);
    await Promise.all(missing.map((s) => s.kill()));

    // One member of three: no meta leader, so no JetStream request can succeed.
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = await start(port);
    let exited: number | null | undefined;
    proc.once('exit', (code) => {
      exited = code;
    });
    const live = await waitFor(async () => (await status(`${url}/livez`))?.status === 200, {
      what: 'the starting hub to answer /livez',
      timeoutMs: 30_000,
    });
    expect(live).toBe(true);
    // Connected to the one member there is, waiting for JetStream.
    const notReady = await waitFor(
      async () => {
        const r = await status(`${url}/readyz`);
        return r && /not ready: JetStream/.test(String(r.body.status)) ? r : undefined;
      },
      { what: '/readyz to say the hub waits for JetStream', timeoutMs: 30_000 },
    );
    expect(notReady?.status).toBe(503);
    expect((await status(`${url}/v1/resources`))?.status).toBe(503);
    // Longer than a NATS request timeout (5 s): a hub that gave up would have exited by now.
    await sleep(7_000);
    expect(exited, out.slice(-3_000)).toBeUndefined();
    expect((await status(`${url}/readyz`))?.status).toBe(503);
    expect(out).toMatch(/JetStream set-up: not possible yet; retrying/);

    // A cluster member restarts only with a quorum in sight: both at once.
    await Promise.all(missing.map((s) => s.restart()));
    await waitFor(async () => (await status(`${url}/readyz`))?.status === 200, {
      what: 'the hub to become ready once the members are back',
      timeoutMs: 90_000,
    });
    const api = hubClient(url);
    const region = sampleMesh()[0]!;
    const put = await api.put('Region', '_', region.metadata.name, region);
    expect(put.status, JSON.stringify(put.body)).toBe(201);

    // The streams exist now: a hub restarted while one member is down is ready without it.
    proc.kill('SIGKILL');
    await new Promise((r) => proc.once('exit', r));
    await cluster.servers[1]!.kill();
    const again = await start(port);
    let exitedAgain: number | null | undefined;
    again.once('exit', (code) => {
      exitedAgain = code;
    });
    await waitFor(async () => (await status(`${url}/readyz`))?.status === 200, {
      what: 'the restarted hub to become ready on two of three members',
      timeoutMs: 90_000,
    });
    expect(exitedAgain).toBeUndefined();
    expect((await api.get('Region', '_', region.metadata.name)).status).toBe(200);
    await cluster.servers[1]!.restart();
  }, 240_000);
});

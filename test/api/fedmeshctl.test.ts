import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { RunningHub } from '@fedmesh/hub';
import { BUILD, sampleMesh } from '@fedmesh/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../hub/src/cli/index.js';
import { freePort, startTestHub, waitFor } from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TOKEN = 'ctl-admin-token-0123456789';
const EXAMPLES = join(ROOT, 'deploy/examples');

let nats: NatsServerHandle;
let hub: RunningHub;
let tmp: string;
/** deploy/examples when the lead's sample mesh is there; otherwise the same mesh from sampleMesh(). */
let manifests: string;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'fedmeshctl-e2e-'));
  if (existsSync(EXAMPLES)) manifests = EXAMPLES;
  else {
    manifests = join(tmp, 'mesh');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(manifests);
    writeFileSync(
      join(manifests, 'mesh.yaml'),
      sampleMesh()
        .map((r) => stringify(r))
        .join('---\n'),
    );
  }
  nats = await startNatsServer();
  hub = await startTestHub(nats.url, { adminToken: TOKEN });
});
afterAll(async () => {
  await hub?.stop();
  await nats?.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  printLogsOnFailure(nats);
});

/** fedmeshctl in-process: the same code as the bin, without paying tsx start-up per command. */
async function ctl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdout: (t) => {
      out += t;
    },
    stderr: (t) => {
      err += t;
    },
    env: { FEDMESH_SERVER: hub.url, FEDMESH_TOKEN: TOKEN },
    readStdin: async () => '',
  });
  return { code, out, err };
}

describe('fedmeshctl against a real hub', () => {
  it('cli - apply -f of the sample mesh creates it, then get, history, diff and the audit log show it', async () => {
    const applied = await ctl('apply', '-f', manifests);
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toMatch(/Region eu-west created \(revision \d+\)/);
    expect(applied.out).toMatch(/documents: \d+ created\n$/);
    const created = Number(/(\d+) documents/.exec(applied.out)![1]);
    expect(created).toBeGreaterThanOrEqual(10);

    const regions = await ctl('get', 'regions');
    expect(regions.code).toBe(0);
    expect(regions.out.split('\n')[0]).toMatch(/^NAME\s+REVISION\s+LABELS\s+BUDGET\s+GATEWAY$/);
    for (const r of ['eu-west', 'us-east', 'ap-south']) expect(regions.out).toContain(r);

    const svc = await ctl('get', 'svc', 'payments', '-n', 'shop', '-o', 'yaml');
    expect(svc.code).toBe(0);
    expect(svc.out).toMatch(
      /^apiVersion: fedmesh.io\/v1\nkind: Service\nmetadata:\n {2}name: payments\n {2}namespace: shop\n {2}revision: \d+/,
    );

    const history = await ctl('history', 'service', 'payments', '-n', 'shop');
    expect(history.code).toBe(0);
    expect(history.out).toMatch(/^REVISION\s+TIME\s+OP\s+ACTOR\n\d+\s+\S+\s+create\s+admin\n$/);

    const diff = await ctl('diff', '-f', manifests);
    expect(diff.code, diff.out + diff.err).toBe(0);
    expect(diff.out).toMatch(/\(dry run\): \d+ unchanged\n$/);

    const changes = await ctl('changes', '--limit', '1000');
    expect(changes.code).toBe(0);
    expect(changes.out.trim().split('\n')).toHaveLength(created + 1);
    expect(changes.out).toMatch(/\d+\s+\S+\s+admin\s+create\s+Service shop\/payments/);
  });

  it('cli - a second apply of the same files changes nothing', async () => {
    const before = await ctl('changes', '--limit', '1000', '-o', 'json');
    const again = await ctl('apply', '-f', manifests);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/documents: \d+ unchanged\n$/);
    expect(again.out).not.toMatch(/created|updated/);
    expect((await ctl('changes', '--limit', '1000', '-o', 'json')).out).toBe(before.out);
  });

  it('cli - diff and apply --dry-run show a change without making it; apply makes it', async () => {
    const edited = join(tmp, 'edited.yaml');
    const payments = await ctl('get', 'svc', 'payments', '-n', 'shop', '-o', 'yaml');
    writeFileSync(edited, payments.out.replace(/\n\s+revision: \d+/, '').replace('port: 9091', 'port: 9092'));
    const diff = await ctl('diff', '-f', edited);
    expect(diff.code, diff.out + diff.err).toBe(1);
    expect(diff.out).toContain(
      'Service shop/payments would be updated\n    ~ /spec/ports/0/port: 9091 → 9092',
    );
    const dry = await ctl('apply', '--dry-run', '-f', edited);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('~ /spec/ports/0/port: 9091 → 9092');
    expect((await ctl('get', 'svc', 'payments', '-n', 'shop', '-o', 'json')).out).toContain('"port": 9091');
    const wet = await ctl('apply', '-f', edited);
    expect(wet.out).toMatch(/Service shop\/payments updated \(revision \d+\)/);
    const history = await ctl('history', 'svc', 'payments', '-n', 'shop', '-o', 'json');
    expect(JSON.parse(history.out).items).toHaveLength(2);
  });

  it('cli - an invalid document is reported with its file and field and nothing is applied', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(
      bad,
      'apiVersion: fedmesh.io/v1\nkind: Service\nmetadata: {name: broken, namespace: shop}\nspec:\n  ports: [{name: http, port: 80, protocol: http, colour: red}]\n',
    );
    const res = await ctl('apply', '-f', bad);
    expect(res.code).toBe(1);
    expect(res.err).toContain(
      `${bad}#1: Service shop/broken invalid\n    spec.ports.0.colour: unknown field`,
    );
    expect((await ctl('get', 'svc', 'broken', '-n', 'shop')).code).toBe(1);
  });

  it('cli - delete removes a resource and errors carry the server message', async () => {
    expect((await ctl('delete', 'authz', 'payments', '-n', 'shop')).code).toBe(0);
    const gone = await ctl('delete', 'authz', 'payments', '-n', 'shop');
    expect(gone.code).toBe(1);
    expect(gone.err).toBe('error: AuthorizationPolicy shop/payments not found (HTTP 404, not_found)\n');
    const denied = await runCli(['get', 'regions'], {
      stdout: () => {},
      stderr: () => {},
      env: { FEDMESH_SERVER: hub.url, FEDMESH_TOKEN: 'wrong' },
      readStdin: async () => '',
    });
    expect(denied).toBe(1);
  });

  it('cli - regions shows a row per region in 100 columns; -o wide shows every column', async () => {
    const res = await ctl('regions');
    expect(res.code).toBe(0);
    expect(res.out.split('\n')[0]).toMatch(
      /^REGION\s+VERSION\s+SYNC\s+LAG\s+BUDGET\s+USE\s+DRAIN\s+PROXIES\s+LAST-ERROR$/,
    );
    // No agents run here: nothing applied, and their silence is what SYNC says.
    expect(res.out).toMatch(/\neu-west\s+-\/\d+\s+stale\s+/);
    for (const line of res.out.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
    const wide = await ctl('regions', '-o', 'wide');
    expect(wide.out.split('\n')[0]).toMatch(
      /^REGION\s+DESIRED\s+APPLIED\s+IN-SYNC\s+LAG\s+SENT\s+RATIO\s+BUDGET\s+USE\s+QUEUED\s+DRAIN\s+PROXIES\s+STALE\s+LAST-ERROR$/,
    );
    expect(wide.out).toMatch(/\neu-west\s+\d+\s+-\s+no\s+/);
  });

  it('cli - the fedmeshctl bin runs from the repo root', async () => {
    const run = promisify(execFile);
    const bin = join(ROOT, 'hub/bin/fedmeshctl.mjs');
    const help = await run(process.execPath, [bin, '--help'], { cwd: ROOT });
    expect(help.stdout).toMatch(/^fedmeshctl — manage a fedmesh hub/);
    const failed = await run(
      process.execPath,
      [bin, 'get', 'region', 'nowhere', '--server', hub.url, '--token', TOKEN],
      { cwd: ROOT },
    ).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({
      code: 1,
      stderr: 'error: Region nowhere not found (HTTP 404, not_found)\n',
    });
  });

  it('cli - changes --limit 3 gives the newest 3, oldest first, in the words history uses', async () => {
    const all = JSON.parse((await ctl('changes', '--limit', '1000', '-o', 'json')).out).items as {
      revision: number;
    }[];
    const three = await ctl('changes', '--limit', '3', '-o', 'json');
    expect(JSON.parse(three.out).items.map((e: { revision: number }) => e.revision)).toEqual(
      all.slice(-3).map((e) => e.revision),
    );
    const table = await ctl('changes', '--limit', '3');
    expect(table.out.trimEnd().split('\n')).toHaveLength(4);
    const history = await ctl('history', 'svc', 'payments', '-n', 'shop');
    const ops = (text: string) =>
      new Set(
        text
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((l) => l.split(/\s+/)[2]),
      );
    expect(ops(history.out)).toEqual(new Set(['create', 'update']));
  });

  it('cli - apply -n fills in the namespace, and a dependsOn or exportTo that points nowhere is warned of', async () => {
    const file = join(tmp, 'warned.yaml');
    writeFileSync(
      file,
      'apiVersion: fedmesh.io/v1\nkind: Service\nmetadata: {name: ledger}\n' +
        'spec: {ports: [{name: http, port: 80, protocol: http}], dependsOn: [paymnets], exportTo: [eu-wset]}\n',
    );
    const res = await ctl('apply', '-f', file, '-n', 'shop');
    expect(res.code, res.err).toBe(0);
    expect(res.out).toBe(
      `${file}#1: Service shop/ledger created (revision ${/revision (\d+)/.exec(res.out)?.[1]})\n` +
        '    warning: spec.dependsOn.0: Service shop/paymnets does not exist (yet): calls to it do not resolve until it is created\n' +
        '    warning: spec.exportTo.0: Region eu-wset does not exist (yet): the service reaches no region of that name\n' +
        '1 document: 1 created (1 with warnings)\n',
    );
    expect((await ctl('get', 'svc', 'ledger', '-n', 'shop')).code).toBe(0);
    const elsewhere = await ctl('apply', '-f', join(tmp, 'bad.yaml'), '-n', 'tools');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toMatch(
      /^error: -n tools disagrees with the namespace of a manifest; nothing was sent/,
    );
  });

  it('cli - preview shows per region the ops, bytes and time at its budget, and changes nothing', async () => {
    const file = join(tmp, 'preview.yaml');
    const payments = (await ctl('get', 'svc', 'payments', '-n', 'shop', '-o', 'yaml')).out;
    writeFileSync(file, payments.replace(/\n\s+revision: \d+/, '').replace(/port: 909\d/, 'port: 9099'));
    const all = await ctl('preview', '-f', file);
    expect(all.code, all.err).toBe(0);
    expect(all.out).toMatch(
      /^eu-west: 1 op, \d+B \(\w+, \d+B raw\) in 1 message, \S+ at its budget of 256KiB\/s\n {4}replace Service\/shop\/payments \/spec\/ports\/0\/port: 9099\n/m,
    );
    for (const region of ['eu-west', 'us-east', 'ap-south'])
      expect(all.out).toMatch(new RegExp(`^${region}: `, 'm'));
    const one = await ctl('preview', '-f', file, '-r', 'eu-west', '-o', 'json');
    const rows = JSON.parse(one.out).items;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ region: 'eu-west', budgetBytesPerSecond: 256 * 1024 });
    expect(rows[0].seconds).toBeCloseTo(rows[0].encodedBytes / (256 * 1024), 9);
    expect((await ctl('get', 'svc', 'payments', '-n', 'shop', '-o', 'yaml')).out).toBe(payments);
    const nowhere = await ctl('preview', '-f', file, '-r', 'mars');
    expect(nowhere.code).toBe(1);
    expect(nowhere.err).toContain('region mars not found');
  });

  it('cli - version prints the client and the hub it reaches', async () => {
    const res = await ctl('version');
    expect(res.code).toBe(0);
    expect(res.out).toBe(
      `client: fedmeshctl ${BUILD.version}\nserver: fedmesh-hub ${BUILD.version} at ${hub.url}\n`,
    );
  });

  it('cli - get --watch reprints when the resource changes and ends on Ctrl-C', async () => {
    const ctrlC = new AbortController();
    let out = '';
    const printed = (n: number) =>
      waitFor(() => (out.match(/^NAME\s/gm) ?? []).length >= n, {
        timeoutMs: 20_000,
        what: `${n} tables printed by get --watch`,
      });
    const watching = runCli(['get', 'region', 'ap-south', '-w'], {
      stdout: (t) => {
        out += t;
      },
      stderr: () => {},
      env: { FEDMESH_SERVER: hub.url, FEDMESH_TOKEN: TOKEN },
      readStdin: async () => '',
      signal: ctrlC.signal,
      watchIntervalMs: 50,
    });
    await printed(1);
    const region = JSON.parse((await ctl('get', 'region', 'ap-south', '-o', 'json')).out);
    region.spec.labels = { ...region.spec.labels, watched: 'yes' };
    delete region.metadata.revision;
    const file = join(tmp, 'watched.json');
    writeFileSync(file, JSON.stringify(region));
    expect((await ctl('apply', '-f', file)).code).toBe(0);
    await printed(2);
    ctrlC.abort();
    expect(await watching).toBe(0);
    expect(out).toMatch(/\nrevision \d+: update Region ap-south by admin\nNAME/);
    expect(out.split('\nrevision')[1]).toContain('watched=yes');
  });

  it('cli - an unreachable hub is named with how to point fedmeshctl elsewhere; HOST:PORT reaches the hub', async () => {
    const run = promisify(execFile);
    const bin = join(ROOT, 'hub/bin/fedmeshctl.mjs');
    const closed = await freePort();
    const failed = await run(process.execPath, [bin, 'regions'], {
      cwd: ROOT,
      env: { ...process.env, FEDMESH_SERVER: `127.0.0.1:${closed}` },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({
      code: 1,
      stderr:
        `error: cannot reach the hub at http://127.0.0.1:${closed}: connection refused (nothing is listening there)\n` +
        '  the address came from FEDMESH_SERVER; is the hub running there? Or set it with --server URL or ' +
        '`export FEDMESH_SERVER=http://HOST:PORT` (npm run demo prints that line)\n',
    });
    const hostPort = hub.url.replace(/^http:\/\//, '');
    const ok = await ctl('get', 'region', 'eu-west', '--server', hostPort);
    expect(ok.code, ok.err).toBe(0);
  });

  it('cli - the bin ends get --watch on SIGINT with status 0', async () => {
    const child = spawn(
      process.execPath,
      [join(ROOT, 'hub/bin/fedmeshctl.mjs'), 'get', 'region', '--watch'],
      {
        cwd: ROOT,
        env: { ...process.env, FEDMESH_SERVER: hub.url, FEDMESH_TOKEN: TOKEN },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('ap-south'), {
        timeoutMs: 30_000,
        what: 'the first table of get --watch',
      });
      child.kill('SIGINT');
      expect(await exited, out).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

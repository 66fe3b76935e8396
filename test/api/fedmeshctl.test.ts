import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { RunningHub } from '@fedmesh/hub';
import { sampleMesh } from '@fedmesh/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from '../../hub/src/cli/index.js';
import { startTestHub } from '../support/fedmesh.js';
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
    expect(history.out).toMatch(/^REVISION\s+TIME\s+OP\s+ACTOR\n\d+\s+\S+\s+put\s+admin\n$/);

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

  it('cli - regions shows a row per region', async () => {
    const res = await ctl('regions');
    expect(res.code).toBe(0);
    expect(res.out.split('\n')[0]).toMatch(
      /^REGION\s+DESIRED\s+APPLIED\s+IN-SYNC\s+LAG\s+SENT\s+RATIO\s+BUDGET\s+USE\s+QUEUED\s+DRAIN\s+PROXIES\s+STALE\s+LAST-ERROR$/,
    );
    expect(res.out).toMatch(/\neu-west\s+\d+\s+-\s+no\s+/);
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
});

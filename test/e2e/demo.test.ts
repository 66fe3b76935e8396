import { spawn, spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { hubClient, listRegistrations } from '../support/fedmesh.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('demo', () => {
  it('demo - converges every region, serves live registered backends over xDS, and leaves no process behind on Ctrl-C', async () => {
    const demo = spawn(process.execPath, ['deploy/local/demo.mjs'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    demo.stdout.on('data', (d) => {
      out += d;
    });
    demo.stderr.on('data', (d) => {
      out += d;
    });
    const ready = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 60_000);
      const check = () => {
        if (out.includes('fedmesh demo ready')) {
          clearTimeout(t);
          resolve(true);
        }
      };
      demo.stdout.on('data', check);
      demo.on('exit', () => resolve(false));
    });
    expect(ready, out).toBe(true);
    const rows = out.split('\n').filter((l) => /^\s+(eu-west|us-east|ap-south)\s/.test(l));
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/\s+yes\s+/);
    const pids = [...out.matchAll(/=(\d+)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBe(5);
    expect(pids.every(alive)).toBe(true);

    // Its live backends: registered at eu-west's agent, healthy, reported to the hub as the
    // endpoints that agent owns, and answering the README's xDS example (the command it prints).
    const hubUrl = /hub admin API\s+(http:\/\/\S+)/.exec(out)![1]!;
    const euWest = /^\s+eu-west\s.*?(http:\/\/\S+)\/status/m.exec(out)![1]!;
    const registered = await listRegistrations(euWest, { namespace: 'shop', service: 'payments' });
    expect(registered.map((r) => [r.id, r.healthy])).toEqual([
      ['payments-v1', true],
      ['payments-v2', true],
    ]);
    const stored = await hubClient(hubUrl).get('ServiceEndpoints', 'shop', 'payments-eu-west');
    expect(stored.body.metadata.annotations).toEqual({ 'fedmesh.io/owner': 'agent/eu-west' });
    expect(
      (stored.body.spec.endpoints as { port: number; healthy: boolean }[])
        .map((e) => [e.port, e.healthy])
        .sort(),
    ).toEqual(registered.map((r) => [r.port, true]).sort());
    const command = /^\s+(node deploy\/local\/call\.mjs .*)$/m.exec(out)![1]!.trim().split(/\s+/);
    const called = spawnSync(process.execPath, command.slice(1), { encoding: 'utf8', timeout: 30_000 });
    expect(called.status, `${called.stdout}${called.stderr}`).toBe(0);
    expect(called.stdout).toMatch(/^20 calls of xds:\/\/\/payments\.shop:/);
    const answered = [...called.stdout.matchAll(/^\s+(\d+)\s+answered by (payments-v[12]) \(eu-west/gm)];
    expect(answered.reduce((n, m) => n + Number(m[1]), 0)).toBe(20);

    // fedmeshctl, the way the demo says to point it at this hub (the README's first steps).
    const server = /^\s+export FEDMESH_SERVER=(http:\/\/127\.0\.0\.1:\d+)$/m.exec(out)?.[1];
    expect(server, out).toBe(hubUrl);
    const ctl = spawnSync(process.execPath, ['hub/bin/fedmeshctl.mjs', 'regions'], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, FEDMESH_SERVER: server },
    });
    expect(ctl.status, `${ctl.stdout}${ctl.stderr}`).toBe(0);
    expect(ctl.stdout).toMatch(/^REGION\s+VERSION\s+SYNC\s/);
    for (const region of ['eu-west', 'us-east', 'ap-south'])
      expect(ctl.stdout).toMatch(new RegExp(`\n${region}\\s`));

    const exit = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
    demo.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  }, 90_000);
});

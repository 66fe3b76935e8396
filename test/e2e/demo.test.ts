import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('demo', () => {
  it('demo - converges every region and leaves no process behind on Ctrl-C', async () => {
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

    const exit = new Promise<number | null>((resolve) => demo.on('exit', (code) => resolve(code)));
    demo.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  }, 90_000);
});

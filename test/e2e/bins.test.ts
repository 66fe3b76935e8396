import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

// The bins as a user runs them after `npm ci`: through node_modules/.bin, in real processes.
describe('bins', () => {
  for (const [bin, mentions] of [
    ['fedmesh-hub', ['--nats', '--listen', 'FEDMESH_ADMIN_TOKEN']],
    ['fedmesh-agent', ['--region', '--nats', '--state-dir', '--xds-listen', '--status-listen']],
    ['fedmeshctl', ['apply', 'get', '--server']],
  ] as const) {
    it(`bins - ${bin} --help prints its usage and exits 0`, async () => {
      const { stdout } = await run('npx', ['--no-install', bin, '--help'], { timeout: 30_000 });
      for (const m of mentions) expect(stdout).toContain(m);
    });
  }

  for (const bin of ['fedmesh-hub', 'fedmesh-agent', 'fedmeshctl']) {
    it(`bins - ${bin} --version prints its name and the package version`, async () => {
      const version = JSON.parse(readFileSync('package.json', 'utf8')).version as string;
      const { stdout } = await run('npx', ['--no-install', bin, '--version'], { timeout: 30_000 });
      expect(stdout.trim()).toBe(`${bin} ${version}`);
    });
  }

  it('bins - fedmesh-agent refuses a missing region with exit code 2 and a message naming the flag', async () => {
    const err = await run('npx', ['--no-install', 'fedmesh-agent'], { timeout: 30_000 }).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('--region');
  });
});

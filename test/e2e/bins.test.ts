import { execFile } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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

// The release build (scripts/build.mjs) on its own: bundles that start with no TypeScript loader.
describe('release build', () => {
  it('build - the bundles run with plain node and never load tsx', async () => {
    const outdir = `.fedmesh/build-test-${process.pid}`;
    try {
      await run(process.execPath, ['scripts/build.mjs', '--outdir', outdir, '--quiet'], { timeout: 60_000 });
      for (const name of ['fedmesh-hub', 'fedmesh-agent', 'fedmeshctl']) {
        const code = readFileSync(`${outdir}/${name}.mjs`, 'utf8');
        expect(code).not.toMatch(/from ["']tsx/);
        // Only node's own loader: import the bundle and call its main.
        const { stdout } = await run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const m = await import(${JSON.stringify(pathToFileURL(resolve(outdir, `${name}.mjs`)).href)}); await m.main(['--help']);`,
          ],
          { timeout: 30_000 },
        );
        expect(stdout).toMatch(/usage/i);
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 90_000);
});

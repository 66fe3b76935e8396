import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, removeDir, waitFor } from '../support/fedmesh.js';
import { printLogsOnFailure, startNatsServer } from '../support/nats.js';

/** Starts a bin, waits until `ready` answers, and returns a way to SIGTERM it and time the exit. */
async function startBin(args: string[], ready: string) {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
  });
  proc.stderr.on('data', (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await waitFor(async () => (await fetch(ready)).ok, {
    what: `${args[0]} to answer ${ready}`,
    timeoutMs: 20_000,
  });
  return {
    output: () => out,
    terminate: async () => {
      const start = Date.now();
      proc.kill('SIGTERM');
      const code = await exited;
      return { code, ms: Date.now() - start };
    },
  };
}

describe('graceful shutdown', () => {
  it('shutdown - hub and agent exit 0 promptly on SIGTERM, with NATS up and with NATS gone', async () => {
    const nats = await startNatsServer();
    printLogsOnFailure(nats);
    const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-shutdown-'));
    try {
      const start = async () => {
        const [hubPort, statusPort, xdsPort] = [await freePort(), await freePort(), await freePort()];
        const hub = await startBin(
          ['hub/bin/fedmesh-hub.mjs', '--nats', nats.url, '--listen', `127.0.0.1:${hubPort}`],
          `http://127.0.0.1:${hubPort}/healthz`,
        );
        const agent = await startBin(
          [
            'edge-agent/bin/fedmesh-agent.mjs',
            ...['--region', 'eu-west', '--nats', nats.url, '--state-dir', stateDir],
            ...['--xds-listen', `127.0.0.1:${xdsPort}`, '--status-listen', `127.0.0.1:${statusPort}`],
          ],
          `http://127.0.0.1:${statusPort}/status`,
        );
        return { hub, agent };
      };

      const up = await start();
      for (const p of [up.agent, up.hub]) {
        const { code, ms } = await p.terminate();
        expect(code, p.output()).toBe(0);
        expect(ms).toBeLessThan(10_000);
      }

      const down = await start();
      await nats.stop();
      for (const p of [down.agent, down.hub]) {
        const { code, ms } = await p.terminate();
        expect(code, p.output()).toBe(0);
        expect(ms).toBeLessThan(10_000);
      }
    } finally {
      removeDir(stateDir);
      await nats.cleanup();
    }
  }, 90_000);
});

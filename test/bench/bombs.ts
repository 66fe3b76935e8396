/**
 * What decompression bombs leave behind in an agent: three brotli bombs (a few hundred bytes
 * each that decode to `--size` of zeros) on a region's sync subject, each announcing the size
 * it decodes to at most `--announce` (default: the agent's --max-payload, the worst case), and
 * the agent process's RSS (VmRSS from /proc) before, at the peak, and 10 s after.
 *
 *   npx tsx test/bench/bombs.ts [--size 1GiB] [--announce 256MiB]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { constants, createBrotliCompress } from 'node:zlib';
import { encodeBody, MessageType, parseByteSize, sampleMesh, syncSubject } from '@fedmesh/shared';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  agentStatus,
  hubClient,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { startNatsServer } from '../support/nats.js';

const { values } = parseArgs({
  options: { size: { type: 'string', default: '1GiB' }, announce: { type: 'string', default: '256MiB' } },
});
const SIZE = parseByteSize(values.size!);
const ANNOUNCE = parseByteSize(values.announce!);
const REGION = 'eu-west';

/** Brotli of `size` zeros, streamed so the bench itself never holds them. */
async function bomb(size: number): Promise<Buffer> {
  const z = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
  const out: Buffer[] = [];
  z.on('data', (d: Buffer) => out.push(d));
  const done = new Promise((r) => z.on('end', r));
  const block = Buffer.alloc(1 << 20);
  for (let sent = 0; sent < size; sent += block.length) {
    if (!z.write(block)) await new Promise((r) => z.once('drain', r));
  }
  z.end();
  await done;
  return Buffer.concat(out);
}

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const nats = await startNatsServer();
const hub = await startTestHub(nats.url);
const stateDir = mkdtempSync(join(tmpdir(), 'fedmesh-bench-bombs-'));
const nc = await connect({ servers: nats.url });
try {
  for (const r of sampleMesh())
    await hubClient(hub.url).put(r.kind, r.metadata.namespace ?? '_', r.metadata.name, r);
  const agent = await spawnAgent(nats.url, REGION, stateDir);
  await waitConverged(hub.url, agent.statusUrl, REGION);
  const pid = agent.proc.pid!;
  await new Promise((r) => setTimeout(r, 2000));
  const before = rssMiB(pid);
  const payload = await bomb(SIZE);
  const held = (await agentStatus(agent.statusUrl)) as unknown as {
    version: number;
    sync: { rejected: number };
  };
  let peak = before;
  const watch = setInterval(() => {
    peak = Math.max(peak, rssMiB(pid));
  }, 20);
  for (let i = 0; i < 3; i++) {
    const body = encodeBody(
      {
        type: MessageType.Delta,
        region: REGION,
        fromVersion: held.version,
        toVersion: held.version + 1,
        toHash: 'e'.repeat(64),
        codec: 'br',
        chunk: { index: 1, count: 1 },
        rawSize: ANNOUNCE,
      },
      payload,
    );
    await jetstream(nc).publish(syncSubject(REGION), body);
    await waitFor(
      async () =>
        ((await agentStatus(agent.statusUrl)) as unknown as { sync: { rejected: number } }).sync.rejected >
        held.sync.rejected + i,
      { what: `bomb ${i + 1} rejected`, timeoutMs: 60_000 },
    );
  }
  await new Promise((r) => setTimeout(r, 10_000));
  clearInterval(watch);
  const after = rssMiB(pid);
  console.log(
    `3 bombs of ${payload.byteLength} B decoding to ${values.size} of zeros, announcing ${values.announce}: ` +
      `agent RSS ${before.toFixed(0)} MiB before, peak ${peak.toFixed(0)} MiB, ${after.toFixed(0)} MiB 10 s after ` +
      `(+${(after - before).toFixed(0)} MiB); load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
  await agent.stop();
} finally {
  await nc.close();
  await hub.stop();
  await nats.cleanup();
  rmSync(stateDir, { recursive: true, force: true });
}

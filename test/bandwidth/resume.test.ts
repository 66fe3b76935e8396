/**
 * A view of more than 20 MB travels in 64 KiB chunks, paced by the budget,
 * spooled to the agent's disk chunk by chunk. Killing the agent, and then dropping its
 * connection, part-way through costs no chunk twice: it resumes at the next one. Its memory
 * does not grow with the chunks it has received.
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { canonicalJson } from '@fedmesh/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentProcess,
  hubClient,
  removeDir,
  spawnAgent,
  startTestHub,
  waitConverged,
  waitFor,
} from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';
import { applyMesh } from './support/fleet.js';
import { generateMesh } from './support/mesh.js';

const REGION = 'eu-west';
/**
 * The agent accepts only identity here, so the 20 MB cross the line as they are (320 chunks)
 * and memory that grew with the chunks received would show.
 */
const AGENT_ARGS = ['--codecs', 'identity'];

interface Status {
  version: number;
  sync: { messagesReceived: number; chunksSpooled: number; resumes: number; lineBytesReceived: number };
  line: { spool: { chunks: number; count: number } | null; budget: { bytesPerSecond: number } | null };
}

const statusOf = async (a: AgentProcess): Promise<Status> =>
  (await (await fetch(`${a.statusUrl}/status`)).json()) as Status;

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** The agent's resident memory, sampled with how many chunks it had spooled. */
function sampleRss(agent: AgentProcess): { stop(): Promise<{ chunks: number; rss: number }[]> } {
  const samples: { chunks: number; rss: number }[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const chunks = (await statusOf(agent)).line.spool?.chunks ?? 0;
        samples.push({ chunks, rss: rssBytes(agent.proc.pid!) });
      } catch {
        // the process is gone or busy applying
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

describe('chunked, resumable snapshots', () => {
  let nats: NatsServerHandle;
  let hub: RunningHub;
  let agent: AgentProcess | undefined;
  let stateDir: string;
  let rawBytes = 0;

  beforeAll(async () => {
    nats = await startNatsServer();
    hub = await startTestHub(nats.url);
    await applyMesh(
      hub.url,
      generateMesh({
        services: 900,
        endpointsPerService: 190,
        link: { budget: '4MiB/s', burst: '1MiB' },
        seed: 20,
      }),
    );
    const view = (await hubClient(hub.url).view(REGION)).body;
    rawBytes = Buffer.byteLength(canonicalJson({ resources: view.resources }));
    stateDir = mkdtempSync(join(tmpdir(), `fedmesh-${REGION}-`));
  }, 240_000);

  afterAll(async () => {
    await agent?.stop();
    if (stateDir) removeDir(stateDir);
    await hub?.stop();
    await nats?.cleanup();
  }, 60_000);

  it('resume - a 20 MB snapshot survives a killed agent and a dropped connection, fetching no chunk twice', async () => {
    printLogsOnFailure(nats);
    expect(rawBytes).toBeGreaterThan(20 * 1024 * 1024);
    agent = await spawnAgent(nats.url, REGION, stateDir, AGENT_ARGS);
    const first = agent;
    const firstRss = sampleRss(first);
    const started = await waitFor(async () => (await statusOf(first)).line.spool, {
      what: 'the first agent to start spooling the snapshot',
      timeoutMs: 120_000,
    });
    const count = started!.count;
    await waitFor(async () => ((await statusOf(first)).line.spool?.chunks ?? 0) >= count * 0.3, {
      what: 'the first agent to spool 30% of the chunks',
      timeoutMs: 120_000,
    });
    await firstRss.stop();
    await first.kill9();
    const spooled = JSON.parse(readFileSync(join(stateDir, 'spool', 'progress.json'), 'utf8')) as {
      chunks: number;
    };
    expect(spooled.chunks).toBeGreaterThan(0);
    expect(spooled.chunks).toBeLessThan(count);
    // Every chunk recorded so far is on disk, in order, 64 KiB each. A kill between writing a
    // chunk and recording it leaves that one chunk beyond the record; the next start truncates it.
    const partSize = statSync(join(stateDir, 'spool', 'payload.part')).size;
    expect(partSize).toBeGreaterThanOrEqual(spooled.chunks * 64 * 1024);
    expect(partSize).toBeLessThanOrEqual((spooled.chunks + 1) * 64 * 1024);

    agent = await spawnAgent(nats.url, REGION, stateDir, AGENT_ARGS);
    const second = agent;
    const secondRss = sampleRss(second);
    await waitFor(async () => ((await statusOf(second)).line.spool?.chunks ?? 0) >= count * 0.6, {
      what: 'the second agent to spool 60% of the chunks',
      timeoutMs: 120_000,
    });
    // The line goes down: every connection to the hub's NATS drops, and comes back.
    await nats.restart();
    const mid = (await statusOf(second)).line.spool;
    // Still mid-transfer when the connection came back: the rest came over the new connection.
    expect(mid?.chunks ?? count).toBeLessThan(count);
    await waitConverged(hub.url, second.statusUrl, REGION, 180_000);
    const s = await statusOf(second);

    // The second process fetched exactly the chunks the first had not spooled (a chunk in
    // flight when the connection dropped may come twice). Through the reconnect the pull goes
    // on where the durable consumer stands; a chunk lost in flight would be a gap, answered by
    // replaying from the last spooled chunk.
    expect(s.sync.resumes).toBeGreaterThanOrEqual(1);
    expect(s.sync.chunksSpooled).toBe(count - spooled.chunks);
    expect(s.sync.messagesReceived).toBeLessThanOrEqual(count - spooled.chunks + 2);
    expect(s.line.spool).toBeNull();
    expect(existsSync(join(stateDir, 'spool', 'progress.json'))).toBe(false);

    // Memory is reported, not asserted: RSS includes garbage V8 has not collected yet and grows
    // to its GC threshold whatever the payload, more so on a busy machine (73 MiB of spread was
    // seen at load 10). That the chunks are on disk and not in memory is asserted above: each
    // one is in the part file, and the second process fetched only the ones the first had not.
    const spooling = (await secondRss.stop()).filter((x) => x.chunks > 0 && x.chunks < count);
    if (spooling.length > 1) {
      const low = Math.min(...spooling.map((x) => x.rss));
      const high = Math.max(...spooling.map((x) => x.rss));
      const spooledBytes = (spooling.at(-1)!.chunks - spooling[0]!.chunks) * 64 * 1024;
      console.log(
        `resume: view ${mib(rawBytes)} in ${count} chunks; killed after ${spooled.chunks}, the second process` +
          ` fetched ${s.sync.messagesReceived} messages; its RSS stayed within ${mib(low)}..${mib(high)} while` +
          ` ${mib(spooledBytes)} of chunks were spooled`,
      );
    }
  }, 300_000);
});

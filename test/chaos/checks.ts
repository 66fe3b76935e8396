/**
 * The three invariants a chaos run ends with (docs/chaos.md):
 *  1. no acknowledged write is lost: every key holds what the churn ledger allows;
 *  2. every region's agent holds the hub's view (same hash at both hubs and at the agent);
 *  3. no (region, version) on the sync stream carries two hashes ("one version, one view").
 */

import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_BUCKET, canonicalJson, decodeBody, type Resource, SYNC_STREAM } from '@fedmesh/shared';
import { type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Content, KeyLedger } from './churn.js';

export interface LostWrites {
  checked: number;
  /** Keys whose content is neither the last acknowledged write nor a write in doubt after it. */
  lost: string[];
  /** Keys that hold a write whose answer was lost (allowed, and counted for the report). */
  landedInDoubt: number;
}

/** Reads every key the churn wrote through the REST API and holds it against the ledger. */
export async function findLostWrites(hubUrl: string, ledger: readonly KeyLedger[]): Promise<LostWrites> {
  const lost: string[] = [];
  let landedInDoubt = 0;
  const queue = [...ledger];
  const worker = async () => {
    for (let k = queue.shift(); k; k = queue.shift()) {
      const got = await readContent(hubUrl, k);
      if (got === k.acked) continue;
      if (k.since.includes(got)) landedInDoubt++;
      else lost.push(`${k.kind}/${k.name}: holds ${short(got)}, last acknowledged ${short(k.acked)}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { checked: ledger.length, lost, landedInDoubt };
}

async function readContent(hubUrl: string, k: KeyLedger): Promise<Content> {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(`${hubUrl}/v1/resources/${k.kind}/shop/${k.name}`, {
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status === 404) return null;
      if (res.status === 200) return canonicalJson((JSON.parse(text) as Resource).spec);
      throw new Error(`${res.status} ${text.slice(0, 200)}`);
    } catch (err) {
      if (attempt >= 5) throw new Error(`cannot read ${k.kind}/${k.name}: ${(err as Error).message}`);
      await sleep(500);
    }
  }
}

const short = (c: Content) => (c === null ? 'nothing' : c.length > 120 ? `${c.slice(0, 120)}…` : c);

export interface RegionProbe {
  region: string;
  statusUrl: string;
}

export interface Convergence {
  /** From the call until every agent held its hub view; undefined when the time ran out. */
  ms: number | undefined;
  /** When they all agreed (ms since the epoch). */
  at: number | undefined;
  /** Per region, when it first agreed (ms since the epoch). */
  regionAt: Record<string, number>;
  /** Per region, what was seen last: hub hashes and the agent's. */
  last: Record<string, { hubs: (string | undefined)[]; agent: string | undefined }>;
}

/** Polls until, for every region, both hubs' view hash and the agent's `/status` hash agree. */
export async function waitForConvergence(
  hubUrls: readonly string[],
  agents: readonly RegionProbe[],
  timeoutMs: number,
): Promise<Convergence> {
  const started = Date.now();
  const last: Convergence['last'] = {};
  const regionAt: Record<string, number> = {};
  const get = async (url: string): Promise<string | undefined> => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = (await res.json()) as { hash?: string };
      return res.ok ? body.hash : undefined;
    } catch {
      return undefined;
    }
  };
  while (Date.now() - started < timeoutMs) {
    const rows = await Promise.all(
      agents.map(async (a) => {
        const hubs = await Promise.all(hubUrls.map((h) => get(`${h}/v1/regions/${a.region}/view`)));
        const agent = await get(`${a.statusUrl}/status`);
        last[a.region] = { hubs, agent };
        const agrees = agent !== undefined && hubs.every((h) => h === agent);
        if (agrees) regionAt[a.region] ??= Date.now();
        return agrees;
      }),
    );
    if (rows.every(Boolean)) return { ms: Date.now() - started, at: Date.now(), regionAt, last };
    await sleep(100);
  }
  return { ms: undefined, at: undefined, regionAt, last };
}

export interface StreamVersions {
  messages: number;
  /** `region:version hashA hashB …` for every (region, version) with more than one hash. */
  twoHashes: string[];
}

/** Reads the whole sync stream with a raw client and groups the envelopes by (region, version). */
export async function versionsWithTwoHashes(natsUrls: readonly string[]): Promise<StreamVersions> {
  const nc = await connect({ servers: [...natsUrls], timeout: 5_000 });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const info = await jsm.streams.info(SYNC_STREAM);
    const hashes = new Map<string, Set<string>>();
    let messages = 0;
    if (info.state.messages > 0) {
      const consumer = await jetstream(nc).consumers.get(SYNC_STREAM, {});
      const iter = await consumer.consume({ max_messages: 500 });
      const deadline = setTimeout(() => iter.stop(), 120_000);
      try {
        for await (const m of iter) {
          messages++;
          const region = m.subject.split('.').at(-1)!;
          const { meta } = decodeBody(region, m.data);
          const key = `${region}:${meta.toVersion}`;
          hashes.set(key, (hashes.get(key) ?? new Set()).add(meta.toHash));
          if (m.info.pending === 0) break;
        }
      } finally {
        clearTimeout(deadline);
        iter.stop();
      }
    }
    const twoHashes = [...hashes].filter(([, h]) => h.size > 1).map(([k, h]) => `${k} ${[...h].join(' ')}`);
    return { messages, twoHashes };
  } finally {
    await nc.close();
  }
}

/**
 * For a run that found a version with two hashes: every message of the config KV and of the
 * sync stream, decoded, in one JSON file, to replay offline which view was the right one.
 */
export async function dumpStreams(natsUrls: readonly string[], file: string): Promise<void> {
  const nc = await connect({ servers: [...natsUrls], timeout: 5_000 });
  try {
    const js = jetstream(nc);
    const read = async (stream: string, each: (m: JsMsg) => Promise<unknown>) => {
      const out: unknown[] = [];
      const consumer = await js.consumers.get(stream, {});
      const iter = await consumer.consume({ max_messages: 500 });
      const deadline = setTimeout(() => iter.stop(), 120_000);
      try {
        for await (const m of iter) {
          out.push({ seq: m.seq, subject: m.subject, ...((await each(m)) as object) });
          if (m.info.pending === 0) break;
        }
      } finally {
        clearTimeout(deadline);
        iter.stop();
      }
      return out;
    };
    const kv = await read(`KV_${CONFIG_BUCKET}`, async (m) => ({
      op: m.headers?.get('KV-Operation') || 'PUT',
      ...(m.data.length ? { value: m.json() } : {}),
    }));
    const sync = await read(SYNC_STREAM, async (m) => {
      const region = m.subject.split('.').at(-1)!;
      const { meta, payload } = decodeBody(region, m.data);
      return { meta, payload: Buffer.from(payload).toString('base64') };
    });
    writeFileSync(file, JSON.stringify({ kv, sync }));
  } finally {
    await nc.close();
  }
}

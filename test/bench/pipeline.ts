/**
 * The hub's publication path in process, timed, and what its messages cost on the line: what
 * every benchmark that models fedmesh (model mode, hub CPU, agent apply, live, the paced line)
 * runs the same way.
 */
import {
  createIncrementalScoper,
  DEFAULT_CHUNK_SIZE,
  encodeDelta,
  type IncrementalScoper,
  type OutgoingMessage,
  opsFromChanges,
  type RegionChanges,
} from '@fedmesh/hub';
import {
  ackSubjectBytes,
  agentDurableName,
  type Codec,
  deliveryLineBytes,
  encodeEnvelope,
  type Resource,
  syncHeaderBytes,
  syncSubject,
} from '@fedmesh/shared';
import { round } from './stats.js';
import { keyOf, type Write } from './workload.js';

export interface EncodeConfig {
  codec: Codec;
  /** Undefined: the hub's default (brotli quality 9). */
  level: number | undefined;
  chunkSize: number;
}

export const DEFAULT_ENCODE: EncodeConfig = { codec: 'br', level: undefined, chunkSize: DEFAULT_CHUNK_SIZE };

export function encodeOpts(e: EncodeConfig) {
  return { codec: e.codec, chunkSize: e.chunkSize, ...(e.level === undefined ? {} : { level: e.level }) };
}

// ---- the fedmesh pipeline, timed ----------------------------------------------------------------

export interface StageTimes {
  apply: number;
  flush: number;
  ops: number;
  hash: number;
  encode: number;
}

export interface FedmeshStep {
  /** process.cpuUsage (user + system, every thread: brotli runs on the libuv pool) in µs. */
  cpuUs: number;
  /**
   * The same CPU split by stage (µs): cpuUsage deltas around each, so a busy neighbour on a shared
   * machine does not show up as a slow stage the way wall time would.
   */
  stages: StageTimes;
  regions: Map<
    string,
    { bytes: number; wireBytes: number; messages: number; changes: RegionChanges; out: OutgoingMessage[] }
  >;
}

/** µs of CPU (user + system) used by the whole process so far. */
export function cpuNow(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/**
 * One change through the hub's path: scoper.apply, flush, then per changed region the ops, the
 * view hash and the encoded delta, as the sync engine does on publication (without NATS).
 */
export async function fedmeshStep(
  scoper: IncrementalScoper,
  writes: readonly Write[],
  versions: Map<string, number>,
  toVersion: number,
  enc: EncodeConfig,
): Promise<FedmeshStep> {
  const stages: StageTimes = { apply: 0, flush: 0, ops: 0, hash: 0, encode: 0 };
  let t = cpuNow();
  for (const w of writes) scoper.apply(w.key, w.resource);
  stages.apply += lap();
  const changed = scoper.flush();
  stages.flush += lap();
  const regions: FedmeshStep['regions'] = new Map();
  for (const [region, changes] of changed) {
    const ops = opsFromChanges(changes);
    stages.ops += lap();
    const hash = scoper.hash(region)!;
    stages.hash += lap();
    const msgs = await encodeDelta(region, versions.get(region) ?? 0, toVersion, hash, ops, encodeOpts(enc));
    stages.encode += lap();
    versions.set(region, toVersion);
    regions.set(region, { ...measure(msgs), changes, out: msgs });
    t = cpuNow(); // bookkeeping between regions is the benchmark's, not the hub's
  }
  return { cpuUs: sumStages(stages), stages, regions };

  function lap(): number {
    const now = cpuNow();
    const us = now - t;
    t = now;
    return us;
  }
}

export function sumStages(s: StageTimes): number {
  return s.apply + s.flush + s.ops + s.hash + s.encode;
}

/** Stage totals divided by a count, rounded to 0.1 µs: the mean per change. */
export function meanStages(s: StageTimes, n: number): StageTimes {
  const m = (x: number) => round(x / Math.max(1, n), 1);
  return { apply: m(s.apply), flush: m(s.flush), ops: m(s.ops), hash: m(s.hash), encode: m(s.encode) };
}

export function measure(msgs: OutgoingMessage[]): { bytes: number; wireBytes: number; messages: number } {
  let bytes = 0;
  let wire = 0;
  for (const m of msgs) {
    // Payload: the codec's bytes alone. On the line: everything a delivered message costs but
    // TCP/IP: the body (envelope and payload), the JetStream headers it carries and the HMSG
    // line with its ack subject (six-digit stream sequences, as on a stream in service).
    bytes += m.data.byteLength - encodeEnvelope(m.meta).byteLength;
    wire += framedBytes(m.meta.region, m.data.byteLength);
  }
  return { bytes, wireBytes: wire, messages: msgs.length };
}

/** Loads a mesh into a fresh scoper, as the hub does at start (one flush computes every view). */
export function loadScoper(resources: readonly Resource[]): IncrementalScoper {
  const scoper = createIncrementalScoper();
  for (const r of resources) scoper.apply(keyOf(r), r);
  scoper.flush();
  return scoper;
}

/** Stream sequence assumed for the lengths of the expected-sequence header and the ack subject. */
const TYPICAL_SEQ = 100_000;

/** A message body of `body` bytes on `region`'s subject, as the line carries it (TCP/IP aside). */
export function framedBytes(region: string, body: number): number {
  const hdr = syncHeaderBytes(TYPICAL_SEQ);
  const reply = ackSubjectBytes(agentDurableName(region), TYPICAL_SEQ);
  return body + hdr + deliveryLineBytes(syncSubject(region), 'x'.repeat(reply), hdr, hdr + body);
}

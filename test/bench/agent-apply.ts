/**
 * Agent apply time and memory for a view of about 10k resources. The parent builds the view with
 * the generator and the hub's scoper, encodes a snapshot and a run of real deltas for that region
 * with the hub's encoder, and hands them to a child process (agent-apply-child.ts) that decodes
 * and applies them with the agent's own `applyPayload`. A child, because RSS is per process: in
 * this one the benchmark's meshes (hundreds of MB) would drown a view's footprint.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeSnapshot, type OutgoingMessage } from '@fedmesh/hub';
import { type EncodeConfig, fedmeshStep, loadScoper } from './pipeline.js';
import { type Summary, summarize } from './stats.js';
import { type ChurnMix, createWorkload } from './workload.js';

export interface AgentApplyConfig {
  targetResources: number;
  /** Few regions, so one region's view reaches the target with a modest mesh. */
  regions: number;
  seed: number;
  mix: ChurnMix;
  deltas: number;
  snapshotRepeats: number;
  encode: EncodeConfig;
}

/** What the child reports (times in ms, memory in bytes). */
export interface ChildReport {
  snapshot: { decodeMs: Summary; parseMs: Summary; applyMs: Summary; totalMs: Summary };
  delta: { decodeMs: Summary; parseMs: Summary; applyMs: Summary; totalMs: Summary };
  memory: {
    /** RSS after loading the agent code, before any view (after a full GC). */
    baselineRss: number;
    /** RSS holding the applied snapshot (after a full GC). */
    withViewRss: number;
    /** JS heap used by the held view: heapUsed with the view minus before (after full GCs). */
    viewHeapBytes: number;
    /** Memory outside the JS heap held with it (Buffers: the mirror's cached encodings). */
    viewExternalBytes: number;
    /** Peak RSS of the whole child (getrusage maxrss), which includes the transient copies of apply. */
    peakRss: number;
    afterDeltasRss: number;
  };
}

export interface AgentApplyResult extends ChildReport {
  region: string;
  viewResources: number;
  viewRawBytes: number;
  snapshotBytes: number;
  snapshotMessages: number;
  deltas: number;
  deltaBytes: Summary;
  meshServices: number;
  method: string;
}

interface EncodedMsg {
  meta: OutgoingMessage['meta'];
  data: string;
}
export interface ChildInput {
  region: string;
  snapshot: EncodedMsg[];
  deltas: EncodedMsg[][];
  snapshotRepeats: number;
}

const CHILD = resolve(import.meta.dirname, 'agent-apply-child.ts');
const ROOT = resolve(import.meta.dirname, '../..');

/**
 * A generated mesh whose largest region view is within ~3 % of `target` resources (view size grows
 * about linearly with services), freshly built so its churn starts at the initial mesh.
 */
export function meshForView(
  target: number,
  regions: number,
  seed: number,
  mix?: ChurnMix,
): { workload: ReturnType<typeof createWorkload>; region: string; size: number } {
  let services = Math.max(10, Math.round(target / 2.5));
  let best: { w: ReturnType<typeof createWorkload>; region: string; size: number } | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    const w = createWorkload({ services, regions, seed, ...(mix ? { mix } : {}) });
    const scoper = loadScoper(w.initial);
    for (const region of w.regionNames) {
      const size = Object.keys(scoper.resources(region) ?? {}).length;
      if (!best || Math.abs(size - target) < Math.abs(best.size - target)) best = { w, region, size };
    }
    if (Math.abs(best!.size - target) / target < 0.03) break;
    services = Math.max(10, Math.round((services * target) / best!.size));
  }
  // Rebuild from scratch: the chosen workload's generator must start its churn at the initial mesh.
  return { workload: createWorkload({ ...best!.w.options }), region: best!.region, size: best!.size };
}

export async function runAgentApply(
  cfg: AgentApplyConfig,
  log: (line: string) => void,
): Promise<AgentApplyResult> {
  const { workload: w, region } = meshForView(cfg.targetResources, cfg.regions, cfg.seed, cfg.mix);
  const scoper = loadScoper(w.initial);
  const resources = scoper.resources(region)!;
  const viewResources = Object.keys(resources).length;
  log(
    `agent: view of ${viewResources.toLocaleString('en-US')} resources (region ${region}, ${w.options.services} services)`,
  );

  const version = w.initial.length;
  const snapshot = await encodeSnapshot(region, version, scoper.hash(region)!, resources, {
    codec: cfg.encode.codec,
    chunkSize: cfg.encode.chunkSize,
    ...(cfg.encode.level === undefined ? {} : { level: cfg.encode.level }),
  });
  const versions = new Map<string, number>([[region, version]]);
  const deltas: OutgoingMessage[][] = [];
  let revision = version;
  for (let i = 0; deltas.length < cfg.deltas && i < cfg.deltas * 200; i++) {
    const step = await fedmeshStep(scoper, w.nextChange().writes, versions, ++revision, cfg.encode);
    const mine = step.regions.get(region);
    if (mine) deltas.push(mine.out);
  }

  const dir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-agent-'));
  try {
    const input: ChildInput = {
      region,
      snapshot: snapshot.map(toEncoded),
      deltas: deltas.map((msgs) => msgs.map(toEncoded)),
      snapshotRepeats: cfg.snapshotRepeats,
    };
    const file = join(dir, 'input.json');
    await writeFile(file, JSON.stringify(input));
    const report = await runChild(file);
    const deltaSizes = deltas.map((msgs) => msgs.reduce((n, m) => n + m.data.byteLength, 0));
    return {
      region,
      viewResources,
      viewRawBytes: snapshot[0]!.meta.rawSize,
      snapshotBytes: snapshot.reduce((n, m) => n + m.data.byteLength, 0),
      snapshotMessages: snapshot.length,
      deltas: deltas.length,
      deltaBytes: summarize(deltaSizes),
      meshServices: w.options.services,
      method:
        'child process (node --expose-gc): RSS and heapUsed read after a full GC before and after the ' +
        'snapshot is applied and held; peak RSS from getrusage maxrss over the whole run',
      ...report,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function toEncoded(m: OutgoingMessage): EncodedMsg {
  return { meta: m.meta, data: Buffer.from(m.data).toString('base64') };
}

function runChild(file: string): Promise<ChildReport> {
  return new Promise((resolveReport, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, file], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`agent apply child exited ${code}: ${err.slice(-4000)}`));
      try {
        resolveReport(JSON.parse(out) as ChildReport);
      } catch (e) {
        reject(
          new Error(`agent apply child printed no report: ${(e as Error).message}\n${out.slice(-2000)}`),
        );
      }
    });
  });
}

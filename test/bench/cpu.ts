/**
 * Hub CPU per change against mesh size. Each size is its own mesh from the same generator and mix
 * (services chosen so the mesh holds about the target number of resources), measured in its own
 * child process (cpu-child.ts) so that one size's heap and garbage never land in another's figures.
 * After the load, a full GC and a warm-up, a sample of changes goes through the hub's path
 * (`fedmeshStep`) with process.cpuUsage read around each.
 *
 * DESIGN.md principle 4 says the cost should follow the change and the regions it reaches, not the
 * mesh: `perRegionUs` divides by the regions each change reached to show that part apart, and the
 * stage timings show which part grows with the mesh.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type EncodeConfig, fedmeshStep, loadScoper, meanStages, type StageTimes } from './pipeline.js';
import { round, type Summary, summarize } from './stats.js';
import { type ChurnMix, createWorkload } from './workload.js';

export interface CpuPointConfig {
  targetResources: number;
  regions: number;
  seed: number;
  mix: ChurnMix;
  warmup: number;
  samples: number;
  /** Resources per service in this generator's mesh (measured on the main mesh), to size each mesh. */
  resourcesPerService: number;
  encode: EncodeConfig;
}

export interface CpuConfig extends Omit<CpuPointConfig, 'targetResources'> {
  sizes: number[];
}

export interface CpuPoint {
  targetResources: number;
  resources: number;
  services: number;
  viewSize: Summary;
  perChangeUs: Summary;
  /** CPU per change divided by the regions the change reached (changes reaching none left out). */
  perRegionUs: Summary;
  regionsTouched: Summary;
  /** Mean CPU of each stage per change, µs. */
  stagesUs: StageTimes;
  /** Main-thread GC pauses per sampled change (perf_hooks 'gc' entries), µs: the price of a big heap. */
  gcPauseUs: number;
  /** JS heap in use while measuring. */
  heapUsedBytes: number;
  loadSeconds: number;
}

export interface CpuResult {
  points: CpuPoint[];
  /** Mean CPU per change at the largest size ÷ at the smallest. */
  ratio: number;
  /** The same with medians: less swayed by a GC pause or a busy neighbour on a shared machine. */
  ratioP50: number;
  /** The same for CPU per region reached. */
  perRegionRatio: number;
  /** Which stage grew most between the smallest and largest size. */
  dominantStage: string;
  method: string;
}

const CHILD = resolve(import.meta.dirname, 'cpu-child.ts');
const ROOT = resolve(import.meta.dirname, '../..');

export async function runCpuScaling(cfg: CpuConfig, log: (line: string) => void): Promise<CpuResult> {
  const points: CpuPoint[] = [];
  for (const targetResources of cfg.sizes) {
    const { sizes: _, ...rest } = cfg;
    const point = await runChild({ ...rest, targetResources });
    points.push(point);
    log(
      `cpu: ${point.resources.toLocaleString('en-US')} resources: ${round(point.perChangeUs.mean / 1000, 2)} ms CPU/change ` +
        `(hash ${round(point.stagesUs.hash / 1000, 2)} ms, encode ${round(point.stagesUs.encode / 1000, 2)} ms), ` +
        `load ${point.loadSeconds.toFixed(1)} s`,
    );
  }
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const growth = (Object.keys(first.stagesUs) as (keyof StageTimes)[])
    .map((k) => [k, last.stagesUs[k] - first.stagesUs[k]] as const)
    .sort((a, b) => b[1] - a[1]);
  return {
    points,
    ratio: last.perChangeUs.mean / first.perChangeUs.mean,
    ratioP50: last.perChangeUs.p50 / first.perChangeUs.p50,
    perRegionRatio: last.perRegionUs.mean / first.perRegionUs.mean,
    dominantStage: growth[0]![0],
    method:
      'one child process per size (node --expose-gc); mesh loaded, full GC, warm-up changes, then ' +
      'process.cpuUsage (user + system, all threads) around apply + flush + ops + hash + encode of each sampled change',
  };
}

/** Runs in the child: builds the mesh, warms up, measures. */
export async function measureCpuPoint(cfg: CpuPointConfig): Promise<CpuPoint> {
  const t0 = performance.now();
  const services = Math.max(1, Math.round((cfg.targetResources - cfg.regions) / cfg.resourcesPerService));
  const w = createWorkload({ services, regions: cfg.regions, seed: cfg.seed, mix: cfg.mix });
  const scoper = loadScoper(w.initial);
  const viewSize = summarize(w.regionNames.map((r) => Object.keys(scoper.resources(r) ?? {}).length));
  for (const r of w.regionNames) scoper.hash(r); // the hub hashes every view at start
  const loadSeconds = (performance.now() - t0) / 1000;
  const versions = new Map<string, number>();
  let revision = w.initial.length;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  for (let i = 0; i < cfg.warmup; i++) {
    await fedmeshStep(scoper, w.nextChange().writes, versions, ++revision, cfg.encode);
  }
  gc?.();

  const pauses: { start: number; duration: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) pauses.push({ start: e.startTime, duration: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  const cpu: number[] = [];
  const perRegion: number[] = [];
  const touched: number[] = [];
  const from = performance.now();
  const stages: StageTimes = { apply: 0, flush: 0, ops: 0, hash: 0, encode: 0 };
  for (let i = 0; i < cfg.samples; i++) {
    const step = await fedmeshStep(scoper, w.nextChange().writes, versions, ++revision, cfg.encode);
    cpu.push(step.cpuUs);
    touched.push(step.regions.size);
    if (step.regions.size) perRegion.push(step.cpuUs / step.regions.size);
    for (const k of Object.keys(stages) as (keyof StageTimes)[]) stages[k] += step.stages[k];
  }
  const to = performance.now();
  const heapUsedBytes = process.memoryUsage().heapUsed;
  await sleep(10); // gc entries arrive asynchronously
  observer.disconnect();
  const gcPauseUs =
    (pauses.filter((p) => p.start >= from && p.start <= to).reduce((n, p) => n + p.duration, 0) * 1000) /
    cfg.samples;
  const perChange = summarize(cpu);
  const stagesUs = meanStages(stages, cfg.samples);
  return {
    targetResources: cfg.targetResources,
    resources: w.initial.length,
    services,
    viewSize,
    perChangeUs: perChange,
    perRegionUs: summarize(perRegion),
    regionsTouched: summarize(touched),
    stagesUs,
    gcPauseUs,
    heapUsedBytes,
    loadSeconds,
  };
}

function runChild(cfg: CpuPointConfig): Promise<CpuPoint> {
  return new Promise((resolvePoint, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', CHILD, JSON.stringify(cfg)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`cpu child exited ${code}: ${err.slice(-4000)}`));
      try {
        resolvePoint(JSON.parse(out) as CpuPoint);
      } catch (e) {
        reject(new Error(`cpu child printed no result: ${(e as Error).message}\n${out.slice(-2000)}`));
      }
    });
  });
}

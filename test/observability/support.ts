import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { findPromtoolBinary } from '../../deploy/ensure-promtool.mjs';

export const OBSERVABILITY_DIR = fileURLToPath(new URL('../../deploy/observability/', import.meta.url));
export const DASHBOARD = `${OBSERVABILITY_DIR}fedmesh-dashboard.json`;
export const RULES = `${OBSERVABILITY_DIR}fedmesh-alerts.yaml`;

/** Runs promtool (found like deploy/ensure-promtool.sh finds it) with `input` on stdin; bounded. */
export function runPromtool(
  args: string[],
  input = '',
  opts: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; output: string }> {
  const bin = findPromtoolBinary();
  if (!bin) {
    return Promise.reject(
      new Error('promtool not found: run `bash deploy/ensure-promtool.sh` (npm test does it in pretest)'),
    );
  }
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.trim() });
    });
    child.stdin.end(input);
  });
}

/** `GET /metrics` of a hub or an agent. */
export async function scrape(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics: ${res.status}`);
  return res.text();
}

/** Every metric name an exposition declares or carries a sample of (histograms' `_bucket` too). */
export function metricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const declared = /^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    const sampled = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    const name = declared?.[1] ?? (line.startsWith('#') ? undefined : sampled?.[1]);
    if (name) names.add(name);
  }
  return names;
}

/** The value of the one sample of `name` whose labels are exactly `labels`; undefined when absent. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '').split(',').filter(Boolean).sort().join(',');
    if (got === want) return Number(m[3]);
  }
  return undefined;
}

/** Helpers the bandwidth suites share: loading a large mesh into a hub, and sampling counters. */
import type { Resource } from '@fedmesh/shared';
import type { Sample } from './windows.js';

/** POST /v1/apply in batches, so one request stays far below the hub's body limit. */
export async function applyMesh(
  hubUrl: string,
  resources: readonly Resource[],
  batchBytes = 2 << 20,
): Promise<void> {
  let batch: Resource[] = [];
  let size = 0;
  const send = async () => {
    if (batch.length === 0) return;
    const res = await fetch(`${hubUrl}/v1/apply`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(batch),
      signal: AbortSignal.timeout(60_000),
    });
    // Always read the answer: an unread body keeps the connection busy and the hub's close waiting.
    const text = await res.text();
    if (!res.ok) throw new Error(`apply failed: ${res.status} ${text.slice(0, 500)}`);
    batch = [];
    size = 0;
  };
  for (const r of resources) {
    const bytes = JSON.stringify(r).length;
    if (size + bytes > batchBytes) await send();
    batch.push(r);
    size += bytes;
  }
  await send();
}

/** Samples a counter every `everyMs` until stopped; the samples are what the budget is judged on. */
export function sampleEvery(
  everyMs: number,
  read: () => Promise<Record<string, number>> | Record<string, number>,
): { stop(): Promise<Record<string, Sample[]>>; series: Record<string, Sample[]> } {
  const series: Record<string, Sample[]> = {};
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const t = performance.now();
      try {
        const values = await read();
        for (const [k, v] of Object.entries(values)) {
          series[k] ??= [];
          series[k].push({ t, bytes: v });
        }
      } catch {
        // A sample that fails (a process restarting) is a gap in the series, not a failed test.
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - t))));
    }
  })();
  return {
    series,
    stop: async () => {
      stopped = true;
      await loop;
      return series;
    },
  };
}

/** First and last sample times at which a cumulative counter moved: when a transfer was running. */
export function activeSpan(samples: readonly Sample[]): { from: number; to: number } | undefined {
  let from: number | undefined;
  let to: number | undefined;
  for (let i = 1; i < samples.length; i++) {
    if (samples[i]!.bytes > samples[i - 1]!.bytes) {
      from ??= samples[i - 1]!.t;
      to = samples[i]!.t;
    }
  }
  return from === undefined || to === undefined ? undefined : { from, to };
}

/** Bytes the nats-server sent to the named client connection, from its monitoring endpoint. */
export async function connOutBytes(monitorUrl: string, name: string): Promise<number> {
  const res = await fetch(`${monitorUrl}/connz?limit=1024`);
  const body = (await res.json()) as { connections?: { name?: string; out_bytes: number }[] };
  return (body.connections ?? []).filter((c) => c.name === name).reduce((n, c) => n + c.out_bytes, 0);
}

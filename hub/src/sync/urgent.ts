/**
 * The urgent lane, hub side (docs/protocol.md, "The urgent lane"): which view changes cannot
 * wait behind a region's backlog, and a small reserve of the region's budget to send them on
 * `fedmesh.urgent.<region>` ahead of the ordered chain. The chain still carries every change;
 * an urgent message only lets the agent serve a few entries early, provisionally.
 */
import {
  type Codec,
  encodeUrgent,
  type Logger,
  REMOTE_ENDPOINTS_KIND,
  type SigningKey,
  type ViewResource,
} from '@fedmesh/shared';
import type { RegionChanges } from '../scope/index.js';

/** Share of a region's budget the urgent lane may use; the agent's pulls leave it room. */
export const URGENT_RESERVE = 0.1;
/** The lane's bucket holds at least this much, so one removal always fits. */
const MIN_URGENT_BURST = 4096;
/**
 * A message up to this size may spend the whole bucket; a bigger one (a rolling restart of a
 * large service, where every step removes endpoints) only what is above `SMALL_HEADROOM`, so
 * that the one removal that matters is not left to the chain behind a run of big ones.
 */
const SMALL_MESSAGE = 1024;
const SMALL_HEADROOM = 2048;

/**
 * A change is urgent when waiting makes proxies send traffic where they must not: an endpoint
 * removed or turned unhealthy, a region's endpoints for a service gone (healthy count 0), a
 * deny rule; or when an operator marked the write urgent.
 */
export function isUrgentChange(before: ViewResource | undefined, after: ViewResource | undefined): boolean {
  const kind = (after ?? before)?.kind;
  if (kind === 'AuthorizationPolicy')
    return (after?.spec as { action?: string } | undefined)?.action === 'deny';
  if (kind === REMOTE_ENDPOINTS_KIND) {
    return before !== undefined && ((after?.spec as { healthy?: number } | undefined)?.healthy ?? 0) === 0;
  }
  if (kind !== 'ServiceEndpoints' || before === undefined) return false;
  const healthy = (r: ViewResource | undefined) => {
    const set = new Set<string>();
    const eps = (r?.spec as { endpoints?: { address: string; port: number; healthy?: boolean }[] })
      ?.endpoints;
    for (const e of eps ?? []) if (e.healthy !== false) set.add(`${e.address}:${e.port}`);
    return set;
  };
  const now = healthy(after);
  for (const ep of healthy(before)) if (!now.has(ep)) return true;
  return false;
}

/** The entries of a region's changes that go on the urgent lane, as they are after the change. */
export function urgentEntries(
  changes: RegionChanges,
  marked: ReadonlySet<string>,
): Record<string, ViewResource | null> | undefined {
  let out: Record<string, ViewResource | null> | undefined;
  for (const [key, { before, after }] of changes) {
    if (!marked.has(key) && !isUrgentChange(before, after)) continue;
    out ??= {};
    out[key] = after ?? null;
  }
  return out;
}

export interface UrgentLaneDeps {
  publish: (region: string, body: Uint8Array) => void;
  /** The region's line budget in bytes/s, when it has one. */
  budget: (region: string) => number | undefined;
  /** The region's line is behind: what the chain publishes now would wait in its queue. */
  behind: (region: string) => boolean;
  log: Logger;
  now?: () => number;
  /** Signs urgent messages like the chain's (`--signing-key`). */
  key?: SigningKey;
}

export interface UrgentLane {
  /**
   * Sends `entries` ahead of the chain when the region's line is behind and the reserve has room.
   * Returns what happened, for metrics and tests.
   */
  offer(
    region: string,
    fromVersion: number,
    toVersion: number,
    entries: Record<string, ViewResource | null>,
    codec: Codec,
  ): Promise<'sent' | 'not_behind' | 'over_reserve'>;
}

export function createUrgentLane(deps: UrgentLaneDeps): UrgentLane {
  const now = deps.now ?? (() => performance.now());
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    async offer(region, fromVersion, toVersion, entries, codec) {
      if (!deps.behind(region)) return 'not_behind';
      const body = await encodeUrgent(region, { fromVersion, toVersion, entries }, codec, deps.key);
      const budget = deps.budget(region);
      if (budget !== undefined) {
        const rate = budget * URGENT_RESERVE;
        const burst = Math.max(MIN_URGENT_BURST, rate);
        const t = now();
        const b = buckets.get(region) ?? { tokens: burst, at: t };
        b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
        b.at = t;
        buckets.set(region, b);
        // Roughly what NATS adds to the body on the line (the MSG line, no JetStream headers).
        const cost = body.byteLength + 40 + region.length;
        if (cost > b.tokens - (cost > SMALL_MESSAGE ? SMALL_HEADROOM : 0)) {
          deps.log.info({ region, bytes: cost }, 'urgent change left to the chain: the reserve is spent');
          return 'over_reserve';
        }
        b.tokens -= cost;
      }
      deps.publish(region, body);
      deps.log.info(
        { region, toVersion, keys: Object.keys(entries).length },
        'urgent change sent ahead of the chain',
      );
      return 'sent';
    },
  };
}

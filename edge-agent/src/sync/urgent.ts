/**
 * The urgent lane, agent side (docs/protocol.md, "The urgent lane"): entries the hub sent ahead
 * of the ordered chain, served over the verified view as a provisional overlay, persisted in
 * the state dir, and settled when the chain reaches their version: confirmed when the chain's
 * entry is the same, dropped when it is not (the chain, verified, always wins). An entry the
 * chain does not confirm within a TTL is dropped too, so a message nobody vouches for (before
 * signed sync) cannot pin a region.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { canonicalJson, type RegionView, type UrgentMessage, type ViewResource } from '@fedmesh/shared';
import { writeFileDurably } from '../state/durable-file.js';

/** Longest an urgent entry is served without the chain confirming it. */
export const URGENT_TTL_MS = 10 * 60_000;
const FILE = 'urgent.json';

interface Entry {
  value: ViewResource | null;
  /** The chain version that will hold it. */
  version: number;
  /** When it arrived (wall clock: it survives a restart). */
  at: number;
}

export interface UrgentCounters {
  received: number;
  confirmed: number;
  dropped: number;
  expired: number;
}

export interface UrgentOverlay {
  /** Picks up what a previous run persisted. */
  load(): Promise<void>;
  /**
   * Takes a verified message's entries that are newer than `held`, at once (so they can be served
   * before the disk has them), and starts writing the overlay; true when anything changed.
   */
  accept(msg: UrgentMessage, held: RegionView): boolean;
  /** Resolves when the overlay as it is now is on disk (rejects when that write failed). */
  written(): Promise<void>;
  /** The chain now holds `held`: settles the entries at or below its version, drops expired ones. */
  settle(held: RegionView): Promise<boolean>;
  /**
   * What the proxies get: `held` with the overlay on top, under a hash of the held view's hash
   * and the overlay (so the xDS server sees a change between two versions of the chain; it is
   * not a view hash: nothing is verified against it); `held` itself without one.
   */
  compose(held: RegionView): RegionView;
  size(): number;
  counters(): Readonly<UrgentCounters>;
}

export function createUrgentOverlay(dir: string, now: () => number = Date.now): UrgentOverlay {
  let entries = new Map<string, Entry>();
  const counters: UrgentCounters = { received: 0, confirmed: 0, dropped: 0, expired: 0 };
  // One write at a time (two writes of one file through one temp name would trip over each
  // other), each of the overlay as it is when it starts; changes made while one is in flight
  // share the one queued after it, so a run of urgent messages costs two writes, not one each.
  let inFlight: Promise<void> = Promise.resolve();
  let queued: Promise<void> | undefined;
  const persist = (): Promise<void> => {
    if (!queued) {
      queued = inFlight
        .catch(() => undefined)
        .then(() => {
          queued = undefined;
          return writeFileDurably(dir, FILE, JSON.stringify(Object.fromEntries(entries)));
        });
      inFlight = queued;
    }
    return queued;
  };
  return {
    async load() {
      try {
        const raw = JSON.parse(await readFile(`${dir}/${FILE}`, 'utf8')) as Record<string, Entry>;
        entries = new Map(
          Object.entries(raw).filter(
            ([, e]) => typeof e?.version === 'number' && typeof e.at === 'number' && 'value' in e,
          ),
        );
      } catch {
        entries = new Map(); // none, or unreadable: the chain alone is what is served
      }
    },
    accept(msg, held) {
      if (msg.toVersion <= held.version) return false; // the chain already has it, or newer
      const at = now();
      for (const [key, value] of Object.entries(msg.entries)) {
        const prior = entries.get(key);
        if (prior && prior.version > msg.toVersion) continue;
        entries.set(key, { value, version: msg.toVersion, at });
      }
      counters.received++;
      persist().catch(() => undefined); // reported through written()
      return true;
    },
    written: () => inFlight,
    async settle(held) {
      let changed = false;
      const t = now();
      for (const [key, e] of entries) {
        if (e.version <= held.version) {
          const chain = held.resources[key] ?? null;
          if (canonicalJson(chain) === canonicalJson(e.value)) counters.confirmed++;
          else counters.dropped++;
        } else if (t - e.at > URGENT_TTL_MS) counters.expired++;
        else continue;
        entries.delete(key);
        changed = true;
      }
      if (changed) await persist();
      return changed;
    },
    compose(held) {
      const live = [...entries].filter(([, e]) => e.version > held.version);
      if (live.length === 0) return held;
      const resources = { ...held.resources };
      const digest = createHash('sha256').update(held.hash);
      for (const [key, e] of live.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        if (e.value === null) delete resources[key];
        else resources[key] = e.value;
        digest.update(`\n${key}\n${canonicalJson(e.value)}`);
      }
      // Costs the overlay, not the view: a view hash of a large view is tens of milliseconds
      // on every serve while the overlay lasts, and the urgent lane exists to be quick.
      return { ...held, resources, hash: `overlay-${digest.digest('hex')}` };
    },
    size: () => entries.size,
    counters: () => counters,
  };
}

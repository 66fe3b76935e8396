/**
 * Publication rounds: which changes of a stream the hub publishes together.
 *
 * The model feeds its changes to the scoper one at a time; a live hub does not publish them one at
 * a time. Its leading-edge debounce (`createPublishSchedule`, the hub's own, here on a virtual
 * clock) publishes a change after a quiet spell at once and holds what follows within the
 * debounce, up to the max wait, so that one delta per region carries all of it. Given the rate at
 * which changes arrive, this says which of them share a round; `mergeRegionChanges` then makes the
 * one delta a region receives for the round.
 */
import { type Clock, createPublishSchedule, type EntryChange, type RegionChanges } from '@fedmesh/hub';
import { canonicalJson } from '@fedmesh/shared';
import { createRng } from './workload.js';

export interface ScheduleTimes {
  debounceMs: number;
  maxWaitMs: number;
}

/** The hub's defaults (`--debounce 100ms --max-wait 1s`). */
export const HUB_SCHEDULE: ScheduleTimes = { debounceMs: 100, maxWaitMs: 1000 };

/**
 * Groups `count` changes arriving as a Poisson stream of `rate` changes/s (seeded) into the rounds
 * the hub's schedule would publish: each round is the indexes of its changes, in order. Rate 0
 * means every change alone (changes far apart). Publication itself is taken as instantaneous.
 */
export function publicationRounds(
  count: number,
  rate: number,
  seed: number,
  times: ScheduleTimes = HUB_SCHEDULE,
): number[][] {
  if (rate <= 0) return Array.from({ length: count }, (_, i) => [i]);
  const clock = new VirtualClock();
  const rounds: number[][] = [];
  let pending: number[] = [];
  const schedule = createPublishSchedule({ ...times, retryMs: 2000, clock }, () => {
    if (pending.length) rounds.push(pending);
    pending = [];
  });
  const rng = createRng(seed);
  let at = 0;
  for (let i = 0; i < count; i++) {
    at += (-Math.log(1 - rng()) / rate) * 1000;
    clock.advanceTo(at);
    pending.push(i);
    schedule.changed();
  }
  clock.advanceTo(Number.POSITIVE_INFINITY);
  schedule.stop();
  if (pending.length) rounds.push(pending);
  return rounds;
}

/**
 * One region's net change over a round: per key its value before the first change and after the
 * last; a key that ends where it started drops out (an endpoint that flapped down and up again).
 */
export function mergeRegionChanges(list: readonly RegionChanges[]): RegionChanges {
  const out: RegionChanges = new Map();
  for (const changes of list) {
    for (const [key, c] of changes) {
      const prev = out.get(key);
      out.set(key, { before: prev ? prev.before : c.before, after: c.after });
    }
  }
  for (const [key, c] of out) if (unchanged(c)) out.delete(key);
  return out;
}

function unchanged(c: EntryChange): boolean {
  if (c.before === undefined || c.after === undefined) return c.before === c.after;
  return canonicalJson(c.before) === canonicalJson(c.after);
}

/** Timers that fire only when the stream's time is moved past them. */
class VirtualClock implements Clock {
  private time = 0;
  private nextId = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Fires, in time order, every timer due by `to` (timers they set included), then stands at `to`. */
  advanceTo(to: number): void {
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= to && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    if (Number.isFinite(to)) this.time = Math.max(this.time, to);
  }
}

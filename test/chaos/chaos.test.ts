/**
 * The chaos suite, short: every kind of fault once (and one more), on the production topology
 * (docs/chaos.md), with the three invariants of a full `npm run chaos`. The convergence bound is
 * generous here (30 s; the suite's goal, and `npm run chaos`'s, is 10 s): this runs beside the
 * rest of the tests on a shared 2-core machine, and the figure it measured is printed.
 */
import { describe, expect, it } from 'vitest';
import { runChaos, summarize } from './index.js';

const FAULTS = 9;

describe('chaos', () => {
  it('chaos - kill -9, SIGSTOP and a full disk, one at a time across hubs, agents, NATS and the leaf: no acknowledged write lost, every region converged, no version with two hashes', async () => {
    const report = await runChaos({
      faults: FAULTS,
      seed: 16,
      pauseMs: 6_000,
      gapMs: [500, 1_500],
      convergeTimeoutMs: 30_000,
    });
    console.log(`chaos (npm test):\n${summarize(report)}`);
    expect(report.healFailure).toBeUndefined();
    expect(report.faults).toHaveLength(FAULTS);
    expect(report.churn.acknowledged).toBeGreaterThan(100);
    expect(report.churn.invalid, report.churn.lastInvalid).toBe(0);
    expect(report.store.lost).toEqual([]);
    expect(report.convergedAfterMs, JSON.stringify(report.convergence)).toBeDefined();
    expect(report.convergedAfterMs!).toBeLessThanOrEqual(30_000);
    expect(report.stream.twoHashes).toEqual([]);
    expect(report.hubOwnExits.map((e) => `${e.process}: ${e.tail.slice(-800)}`)).toEqual([]);
    expect(report.agentOwnExits.map((e) => `${e.process}: ${e.tail.slice(-800)}`)).toEqual([]);
  }, 240_000);
});

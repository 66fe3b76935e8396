import { describe, expect, it } from 'vitest';
import { ChainAttempt, type ChainInput, decideChainStep } from './chain.js';

/** A hub at version 7 whose pending changes start from the view the stream holds at seq 12, version 5. */
const input = (over: Partial<ChainInput> = {}): ChainInput => ({
  attempt: ChainAttempt.Pending,
  head: { seq: 12, version: 5, hash: 'h5' },
  base: { version: 5, hash: 'h5' },
  version: 7,
  hash: 'h7',
  deltasSinceSnapshot: 3,
  keyframeEvery: 10,
  ...over,
});

describe('chain decision', () => {
  describe('pending changes', () => {
    it('chain - a head where the pending changes start gets a delta from that version', () => {
      expect(decideChainStep(input())).toEqual({ kind: 'delta', fromVersion: 5 });
    });

    it('chain - a head that already says what this hub would is adopted, whatever its version', () => {
      expect(decideChainStep(input({ head: { seq: 13, version: 6, hash: 'h7' } }))).toEqual({
        kind: 'adopt',
        version: 6,
      });
      expect(decideChainStep(input({ head: { seq: 13, version: 9, hash: 'h7' } }))).toEqual({
        kind: 'adopt',
        version: 9,
      });
    });

    it('chain - a stream ahead of this hub is left alone', () => {
      expect(decideChainStep(input({ head: { seq: 13, version: 8, hash: 'h8' } }))).toEqual({
        kind: 'behind',
      });
    });

    it('chain - a head at this hub’s own version with another hash is not ahead and gets a snapshot', () => {
      expect(decideChainStep(input({ head: { seq: 13, version: 7, hash: 'other' } }))).toEqual({
        kind: 'snapshot',
      });
    });

    it('chain - an empty subject gets a snapshot', () => {
      expect(decideChainStep(input({ head: undefined }))).toEqual({ kind: 'snapshot' });
    });

    it('chain - a head at another version than the base gets a snapshot', () => {
      expect(decideChainStep(input({ head: { seq: 12, version: 4, hash: 'h4' } }))).toEqual({
        kind: 'snapshot',
      });
    });

    it('chain - a head at the base version with another hash gets a snapshot', () => {
      expect(decideChainStep(input({ head: { seq: 12, version: 5, hash: 'forged' } }))).toEqual({
        kind: 'snapshot',
      });
    });

    it('chain - a base whose hash was never known gets a snapshot even when the versions agree', () => {
      expect(
        decideChainStep(input({ head: { seq: 1, version: 0, hash: '' }, base: { version: 0, hash: '' } })),
      ).toEqual({ kind: 'snapshot' });
    });

    it('chain - changes without a base get a snapshot', () => {
      expect(decideChainStep(input({ base: undefined }))).toEqual({ kind: 'snapshot' });
    });

    it('chain - a snapshot replaces the delta once keyframeEvery deltas followed the last snapshot', () => {
      expect(decideChainStep(input({ deltasSinceSnapshot: 9 }))).toEqual({ kind: 'delta', fromVersion: 5 });
      expect(decideChainStep(input({ deltasSinceSnapshot: 10 }))).toEqual({ kind: 'snapshot' });
    });
  });

  describe('at start', () => {
    const start = (over: Partial<ChainInput>) =>
      input({ attempt: ChainAttempt.Start, base: undefined, ...over });

    it('chain - at start a head that says what this hub would is adopted', () => {
      expect(decideChainStep(start({ head: { seq: 40, version: 3, hash: 'h7' } }))).toEqual({
        kind: 'adopt',
        version: 3,
      });
    });

    it('chain - at start any other head, or none, gets a snapshot', () => {
      expect(decideChainStep(start({}))).toEqual({ kind: 'snapshot' });
      expect(decideChainStep(start({ head: undefined }))).toEqual({ kind: 'snapshot' });
      expect(decideChainStep(start({ head: { seq: 40, version: 9, hash: 'h9' } }))).toEqual({
        kind: 'snapshot',
      });
    });
  });

  describe('after another replica won the race', () => {
    const delta = (over: Partial<ChainInput>) => input({ attempt: ChainAttempt.DeltaRejected, ...over });
    const snapshot = (over: Partial<ChainInput>) =>
      input({ attempt: ChainAttempt.SnapshotRejected, ...over });

    it('chain - a rejected delta gives way to a head that says the same', () => {
      expect(decideChainStep(delta({ head: { seq: 13, version: 7, hash: 'h7' } }))).toEqual({
        kind: 'adopt',
        version: 7,
      });
    });

    it('chain - a rejected delta gives way to a head ahead of this hub', () => {
      expect(decideChainStep(delta({ head: { seq: 13, version: 8, hash: 'h8' } }))).toEqual({
        kind: 'behind',
      });
    });

    it('chain - a rejected delta becomes a snapshot on any other head, even one where it would chain', () => {
      expect(decideChainStep(delta({ head: { seq: 13, version: 6, hash: 'h6' } }))).toEqual({
        kind: 'snapshot',
      });
      expect(decideChainStep(delta({}))).toEqual({ kind: 'snapshot' });
      expect(decideChainStep(delta({ head: undefined }))).toEqual({ kind: 'snapshot' });
    });

    it('chain - a rejected snapshot is sent again, even on a head that says the same', () => {
      expect(decideChainStep(snapshot({ head: { seq: 13, version: 7, hash: 'h7' } }))).toEqual({
        kind: 'snapshot',
      });
      expect(decideChainStep(snapshot({ head: undefined }))).toEqual({ kind: 'snapshot' });
    });

    it('chain - a rejected snapshot gives way to a head ahead of this hub', () => {
      expect(decideChainStep(snapshot({ head: { seq: 13, version: 8, hash: 'h7' } }))).toEqual({
        kind: 'behind',
      });
    });
  });

  describe('a snapshot asked for', () => {
    const forced = (over: Partial<ChainInput>) => input({ attempt: ChainAttempt.Forced, ...over });

    it('chain - a snapshot asked for is sent on any head not ahead, even one that says the same', () => {
      expect(decideChainStep(forced({}))).toEqual({ kind: 'snapshot' });
      expect(decideChainStep(forced({ head: undefined }))).toEqual({ kind: 'snapshot' });
      expect(decideChainStep(forced({ head: { seq: 13, version: 7, hash: 'h7' } }))).toEqual({
        kind: 'snapshot',
      });
    });

    it('chain - a snapshot asked for waits for a stream ahead of this hub', () => {
      expect(decideChainStep(forced({ head: { seq: 13, version: 9, hash: 'h9' } }))).toEqual({
        kind: 'behind',
      });
    });
  });
});

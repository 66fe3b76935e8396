import { describe, expect, it } from 'vitest';
import { createDriftClock } from './drift.js';

describe('drift clock', () => {
  it('metrics - drift is 0 in sync and runs from the oldest unconsumed publication otherwise', () => {
    const d = createDriftClock();
    expect(d.observe('eu-west', true, undefined, 10_000)).toEqual({ since: null, seconds: 0 });
    expect(d.observe('eu-west', false, 4_000, 10_000)).toEqual({ since: 4_000, seconds: 6 });
    // The agent took everything in but still differs (it rejected the message): the date stays.
    expect(d.observe('eu-west', false, undefined, 12_500)).toEqual({ since: 4_000, seconds: 8.5 });
    expect(d.observe('eu-west', true, undefined, 13_000).seconds).toBe(0);
  });

  it('metrics - without evidence, drift runs from when this hub first saw the hashes differ', () => {
    const d = createDriftClock();
    expect(d.observe('eu-west', false, undefined, 5_000)).toEqual({ since: 5_000, seconds: 0 });
    expect(d.observe('eu-west', false, undefined, 7_000)).toEqual({ since: 5_000, seconds: 2 });
    // In sync again while nobody looked, then a new publication: the new one dates the drift.
    expect(d.observe('eu-west', false, 60_000, 61_000)).toEqual({ since: 60_000, seconds: 1 });
    expect(d.observe('us-east', false, undefined, 61_000).seconds, 'regions apart').toBe(0);
  });
});

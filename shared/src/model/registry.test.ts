import { describe, expect, it } from 'vitest';
import { KINDS, ScopingRole } from './kinds.js';
import { APPLY_ORDER, KIND_ALIASES, kindInfo } from './registry.js';

describe('kind registry', () => {
  it('registry - every kind carries a distinct apply rank, its aliases and a scoping role', () => {
    const ranks = KINDS.map((k) => kindInfo(k).applyOrder);
    expect(new Set(ranks).size).toBe(KINDS.length);
    for (const k of KINDS) {
      const info = kindInfo(k);
      expect(info.aliases, k).toContain(k.toLowerCase());
      expect(Object.values(ScopingRole), k).toContain(info.role);
    }
    // An alias names one kind only.
    const all = KINDS.flatMap((k) => kindInfo(k).aliases);
    expect(KIND_ALIASES.size).toBe(all.length);
  });

  it('registry - writes go in dependency order: what a kind refers to is applied before it', () => {
    const before = (a: string, b: string) =>
      expect(APPLY_ORDER.indexOf(a as never), `${a} before ${b}`).toBeLessThan(
        APPLY_ORDER.indexOf(b as never),
      );
    before('Region', 'Service');
    before('Service', 'ServiceEndpoints');
    before('Service', 'TrafficPolicy');
    before('TrafficPolicy', 'TrafficRoute');
    before('Service', 'AuthorizationPolicy');
    expect([...APPLY_ORDER].sort()).toEqual([...KINDS].sort());
  });
});

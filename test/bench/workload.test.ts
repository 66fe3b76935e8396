import { canonicalJson, checkReferences, parseManifest, type Resource, refKey } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { type Change, createWorkload, DEFAULT_WORKLOAD, keyOf } from './workload.js';

// Small enough to keep `npm test` fast, large enough for the distributions to show.
const SMALL = { services: 600, regions: 12, seed: 42 };

function take(n: number, seed = SMALL.seed): { initial: string; changes: Change[] } {
  const w = createWorkload({ ...SMALL, seed });
  const changes = Array.from({ length: n }, () => w.nextChange());
  return { initial: canonicalJson(w.initial), changes };
}

describe('bench workload', () => {
  it('workload - the same options and seed give the same mesh and change stream, byte for byte', () => {
    const a = take(300);
    const b = take(300);
    expect(a.initial).toBe(b.initial);
    expect(canonicalJson(a.changes)).toBe(canonicalJson(b.changes));
    const c = take(300, SMALL.seed + 1);
    expect(c.initial).not.toBe(a.initial);
  });

  it('workload - every generated resource passes parseManifest unchanged, initial and churned', () => {
    const w = createWorkload(SMALL);
    const check = (r: Resource) => {
      const parsed = parseManifest(structuredClone(r));
      // Already normalised: what the hub stores is what the generator made.
      expect(canonicalJson(parsed)).toBe(canonicalJson(r));
    };
    for (const r of w.initial) check(r);
    const kinds = new Set<string>();
    for (let i = 0; i < 1500; i++) {
      const c = w.nextChange();
      kinds.add(c.kind);
      for (const x of c.writes) {
        expect(x.resource).toBeDefined();
        expect(keyOf(x.resource!)).toBe(x.key);
        check(x.resource!);
      }
    }
    expect([...kinds].sort()).toEqual(Object.keys(DEFAULT_WORKLOAD.mix).sort());
  });

  it('workload - references resolve: services, regions and route subsets exist, after churn too', () => {
    const w = createWorkload(SMALL);
    for (let i = 0; i < 500; i++) w.nextChange();
    const state = w.current();
    const lookup = (ref: Parameters<Parameters<typeof checkReferences>[1]>[0]) => state.get(refKey(ref));
    for (const r of state.values()) expect(checkReferences(r, lookup), keyOf(r)).toEqual([]);
    // dependsOn targets exist too (the hub does not require it, but a realistic mesh has them).
    for (const r of state.values()) {
      if (r.kind !== 'Service') continue;
      for (const d of r.spec.dependsOn ?? []) {
        const [ns, name] = d.includes('/') ? d.split('/') : [r.metadata.namespace!, d];
        expect(state.has(`Service/${ns}/${name}`), `${keyOf(r)} → ${d}`).toBe(true);
      }
    }
  });

  it('workload - shape follows the defaults: class shares, 1–3 regions, long-tailed degrees, no cycles', () => {
    const w = createWorkload({ ...SMALL, services: 2000 });
    const s = w.stats();
    expect(s.byClass.entry / s.services).toBeCloseTo(0.13, 2);
    expect(s.byClass.middle / s.services).toBeCloseTo(0.48, 2);
    expect(s.byClass.leaf / s.services).toBeCloseTo(0.39, 2);
    expect(s.regionsPerService).toBeGreaterThan(1.5);
    expect(s.regionsPerService).toBeLessThan(2.5);
    expect(s.outDegree.shareAtMost3).toBeGreaterThan(0.8); // most call 0–3 others
    expect(s.inDegree.max).toBeGreaterThan(20 * s.inDegree.p50); // a few are called by very many
    expect(s.endpointsPerServiceRegion).toBeGreaterThan(5);
    expect(s.endpointsPerServiceRegion).toBeLessThan(40);

    const services = w.initial.filter((r) => r.kind === 'Service');
    const regionsOf = new Map<string, Set<string>>();
    for (const r of w.initial) {
      if (r.kind !== 'ServiceEndpoints') continue;
      const id = `${r.metadata.namespace}/${r.spec.service}`;
      regionsOf.set(id, (regionsOf.get(id) ?? new Set()).add(r.spec.region));
      expect(r.spec.endpoints.length).toBeGreaterThan(0);
      const addrs = r.spec.endpoints.map((e) => `${e.address}:${e.port}`);
      expect(new Set(addrs).size).toBe(addrs.length);
    }
    for (const svc of services) {
      const n = regionsOf.get(`${svc.metadata.namespace}/${svc.metadata.name}`)?.size ?? 0;
      expect(n).toBeGreaterThanOrEqual(1);
      expect(n).toBeLessThanOrEqual(3);
    }
    // Acyclic: a depth-first walk never meets a service on its own path.
    const deps = new Map(
      services.map((s) => [
        `${s.metadata.namespace}/${s.metadata.name}`,
        (s.spec.dependsOn ?? []).map((d) => (d.includes('/') ? d : `${s.metadata.namespace}/${d}`)),
      ]),
    );
    const done = new Set<string>();
    const visit = (id: string, path: Set<string>) => {
      if (done.has(id)) return;
      expect(path.has(id), `cycle through ${id}`).toBe(false);
      path.add(id);
      for (const d of deps.get(id) ?? []) visit(d, path);
      path.delete(id);
      done.add(id);
    };
    for (const id of deps.keys()) visit(id, new Set());
  });

  it('workload - the churn mix follows its weights, and each kind changes what it says', () => {
    const w = createWorkload({ ...SMALL, mix: { ...DEFAULT_WORKLOAD.mix } });
    const before = new Map(w.current());
    const counts: Record<string, number> = {};
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const c = w.nextChange();
      counts[c.kind] = (counts[c.kind] ?? 0) + 1;
      if (c.kind === 'endpointFlap' || c.kind === 'restart') {
        const after = c.writes[0]!.resource!;
        const prior = before.get(c.writes[0]!.key)!;
        expect(after.kind).toBe('ServiceEndpoints');
        if (after.kind !== 'ServiceEndpoints' || prior.kind !== 'ServiceEndpoints') continue;
        const diff = after.spec.endpoints.filter(
          (e, j) => canonicalJson(e) !== canonicalJson(prior.spec.endpoints[j]),
        );
        expect(diff).toHaveLength(1);
        const j = after.spec.endpoints.indexOf(diff[0]!);
        if (c.kind === 'endpointFlap') {
          expect(diff[0]!.healthy ?? true).toBe(!(prior.spec.endpoints[j]!.healthy ?? true));
        } else {
          expect(diff[0]!.address).not.toBe(prior.spec.endpoints[j]!.address);
        }
      }
      if (c.kind === 'scale') {
        const after = c.writes[0]!.resource!;
        const prior = before.get(c.writes[0]!.key)!;
        if (after.kind === 'ServiceEndpoints' && prior.kind === 'ServiceEndpoints') {
          expect(after.spec.endpoints.length).not.toBe(prior.spec.endpoints.length);
        }
      }
      for (const x of c.writes) before.set(x.key, x.resource!);
    }
    const total = Object.values(DEFAULT_WORKLOAD.mix).reduce((a, b) => a + b, 0);
    for (const [kind, weight] of Object.entries(DEFAULT_WORKLOAD.mix)) {
      expect(Math.abs((counts[kind] ?? 0) / n - weight / total), kind).toBeLessThan(0.02);
    }
  });

  it('workload - a mix can switch kinds off', () => {
    const w = createWorkload({
      ...SMALL,
      mix: { endpointFlap: 0, scale: 0, restart: 0, rollout: 1, newService: 0, policyEdit: 0 },
    });
    for (let i = 0; i < 50; i++) expect(w.nextChange().kind).toBe('rollout');
  });
});

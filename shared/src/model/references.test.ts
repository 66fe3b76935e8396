import { describe, expect, it } from 'vitest';
import { sampleMesh } from './fixtures.js';
import { refKey, refOf } from './helpers.js';
import { checkReferences, type ResourceLookup, referenceWarnings } from './references.js';
import type { Resource, ResourceOf } from './types.js';

function lookupIn(resources: Resource[]): ResourceLookup {
  const byKey = new Map(resources.map((r) => [refKey(refOf(r)), r]));
  return (ref) => byKey.get(refKey(ref));
}

function find<K extends Resource['kind']>(mesh: Resource[], kind: K, name: string): ResourceOf<K> {
  const r = mesh.find((x) => x.kind === kind && x.metadata.name === name);
  if (!r) throw new Error(`${kind} ${name} missing`);
  return r as ResourceOf<K>;
}

describe('model - checkReferences', () => {
  it('model - finds nothing wrong with the sample mesh', () => {
    const mesh = sampleMesh();
    const lookup = lookupIn(mesh);
    for (const r of mesh) expect(checkReferences(r, lookup), `${r.kind}/${r.metadata.name}`).toEqual([]);
  });

  it('model - reports a backend subset that the TrafficPolicy does not define', () => {
    const mesh = sampleMesh();
    const route = find(mesh, 'TrafficRoute', 'payments');
    route.spec.rules[0]!.backends[1]!.subset = 'v3';
    expect(checkReferences(route, lookupIn(mesh))).toEqual([
      { path: 'spec.rules.0.backends.1.subset', message: expect.stringMatching(/v3 is not defined.*v1, v2/) },
    ]);
  });

  it('model - reports every subset when the service has no TrafficPolicy', () => {
    const mesh = sampleMesh().filter((r) => r.kind !== 'TrafficPolicy');
    const route = find(mesh, 'TrafficRoute', 'payments');
    expect(checkReferences(route, lookupIn(mesh)).map((i) => i.path)).toEqual([
      'spec.rules.0.backends.0.subset',
      'spec.rules.0.backends.1.subset',
    ]);
  });

  it('model - accepts a route without subsets when there is no TrafficPolicy', () => {
    const mesh = sampleMesh().filter((r) => r.kind !== 'TrafficPolicy');
    const route = find(mesh, 'TrafficRoute', 'payments');
    route.spec.rules[0]!.backends = [{ weight: 1 }];
    expect(checkReferences(route, lookupIn(mesh))).toEqual([]);
  });

  it('model - ignores a TrafficPolicy of the right name that governs another service', () => {
    const mesh = sampleMesh();
    find(mesh, 'TrafficPolicy', 'payments').spec.service = 'checkout';
    const route = find(mesh, 'TrafficRoute', 'payments');
    expect(checkReferences(route, lookupIn(mesh))).toHaveLength(2);
  });

  it.each(['ServiceEndpoints', 'TrafficRoute', 'TrafficPolicy', 'AuthorizationPolicy'] as const)(
    'model - reports a %s whose service does not exist',
    (kind) => {
      const mesh = sampleMesh();
      const r = mesh.find((x) => x.kind === kind)!;
      const rest = mesh.filter(
        (x) => !(x.kind === 'Service' && x.metadata.name === (r.spec as { service: string }).service),
      );
      expect(checkReferences(r, lookupIn(rest))).toContainEqual({
        path: 'spec.service',
        message: expect.stringMatching(/does not exist/),
      });
    },
  );

  it('model - reports endpoints and failover in regions that do not exist', () => {
    const mesh = sampleMesh().filter((r) => !(r.kind === 'Region' && r.metadata.name === 'us-east'));
    const lookup = lookupIn(mesh);
    expect(checkReferences(find(mesh, 'ServiceEndpoints', 'payments-us-east'), lookup)).toEqual([
      { path: 'spec.region', message: 'Region us-east does not exist' },
    ]);
    expect(checkReferences(find(mesh, 'TrafficRoute', 'payments'), lookup)).toEqual([
      { path: 'spec.failover.1', message: 'Region us-east does not exist' },
    ]);
  });

  it('model - allows dependsOn targets that do not exist yet', () => {
    const mesh = sampleMesh();
    const frontend = find(mesh, 'Service', 'frontend');
    frontend.spec.dependsOn = ['billing/ledger', 'not-yet'];
    expect(checkReferences(frontend, () => undefined)).toEqual([]);
  });
});

describe('model - referenceWarnings', () => {
  it('model - the sample mesh warns of nothing', () => {
    const mesh = sampleMesh();
    const lookup = lookupIn(mesh);
    for (const r of mesh) expect(referenceWarnings(r, lookup), `${r.kind}/${r.metadata.name}`).toEqual([]);
  });

  it('model - warns of a dependsOn on a missing service and an exportTo to a missing region, not of selectors', () => {
    const mesh = sampleMesh();
    const svc = find(mesh, 'Service', 'payments');
    svc.spec.dependsOn = ['ledger', 'tools/audit', 'checkout'];
    svc.spec.exportTo = ['eu-wset', 'geo=nowhere', '*'];
    expect(referenceWarnings(svc, lookupIn(mesh))).toEqual([
      { path: 'spec.dependsOn.0', message: expect.stringMatching(/^Service shop\/ledger does not exist/) },
      { path: 'spec.dependsOn.1', message: expect.stringMatching(/^Service tools\/audit does not exist/) },
      { path: 'spec.exportTo.0', message: expect.stringMatching(/^Region eu-wset does not exist/) },
    ]);
  });
});

import {
  API_VERSION,
  agentOwner,
  HEALTHY_COUNT_ANNOTATION,
  OWNER_ANNOTATION,
  type Resource,
  resourceViewKey,
  sampleMesh,
  type ViewResource,
  viewHash,
} from '@fedmesh/shared';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { opsFromChanges } from '../sync/delta.js';
import { createIncrementalScoper } from './incremental.js';
import { scopeRegion } from './scoper.js';
import { eps, svc } from './test-fixtures.js';

const REGIONS = ['r1', 'r2', 'r3', 'r4'];
const SERVICES = ['a', 'b', 'c', 'd', 'e'];

const region = (name: string, geo: string, gateway: boolean): Resource =>
  ({
    apiVersion: API_VERSION,
    kind: 'Region',
    metadata: { name },
    spec: {
      labels: { geo },
      ...(gateway ? { gateway: { address: `10.9.0.${name.charCodeAt(1)}`, port: 15443 } } : {}),
    },
  }) as Resource;

const attached = (kind: string, name: string, service: string): Resource =>
  ({
    apiVersion: API_VERSION,
    kind,
    metadata: { name, namespace: 'shop' },
    spec:
      kind === 'TrafficPolicy'
        ? { service, loadBalancer: 'round_robin' }
        : { service, action: 'allow', rules: [{ from: ['*'] }] },
  }) as Resource;

type Op = { put: Resource } | { del: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc
    .record({ r: fc.constantFrom(...REGIONS), geo: fc.constantFrom('eu', 'us'), gw: fc.boolean() })
    .map(({ r, geo, gw }) => ({ put: region(r, geo, gw) })),
  fc
    .record({
      s: fc.constantFrom(...SERVICES),
      deps: fc.subarray(SERVICES, { maxLength: 2 }),
      exp: fc.constantFrom(undefined, ['*'], ['r1', 'r2'], ['geo=us']),
    })
    .map(({ s, deps, exp }) => ({ put: svc(s, deps, exp) })),
  fc
    .record({
      s: fc.constantFrom(...SERVICES),
      r: fc.constantFrom(...REGIONS),
      n: fc.nat(3),
      bad: fc.nat(2),
      // Reported by the region's agent: left out of that region's own view.
      owned: fc.boolean(),
      // A healthy count the agent reported ahead of the detail (owned ones only).
      count: fc.option(fc.nat(4), { nil: undefined }),
    })
    .map(({ s, r, n, bad, owned, count }) => ({
      put: owned ? ownedEps(s, r, n, bad, count) : eps(s, r, n, bad),
    })),
  fc
    .record({
      kind: fc.constantFrom('TrafficPolicy', 'AuthorizationPolicy'),
      name: fc.constantFrom('p1', 'p2'),
      s: fc.constantFrom(...SERVICES),
    })
    .map(({ kind, name, s }) => ({ put: attached(kind, name, s) })),
  fc
    .constantFrom(
      ...REGIONS.map((r) => `Region/_/${r}`),
      ...SERVICES.map((s) => `Service/shop/${s}`),
      ...SERVICES.flatMap((s) => REGIONS.map((r) => `ServiceEndpoints/shop/${s}-${r}`)),
      'TrafficPolicy/shop/p1',
      'AuthorizationPolicy/shop/p2',
    )
    .map((del) => ({ del })),
);

function ownedEps(service: string, region: string, n: number, unhealthy: number, count?: number): Resource {
  const r = eps(service, region, n, unhealthy);
  return {
    ...r,
    metadata: {
      ...r.metadata,
      annotations: {
        [OWNER_ANNOTATION]: agentOwner(region),
        ...(count === undefined ? {} : { [HEALTHY_COUNT_ANNOTATION]: String(count) }),
      },
    },
  } as Resource;
}

describe('incremental scoper', () => {
  it('scope - incremental views always equal the from-scratch rule, and published deltas rebuild them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(opArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 25 }),
        (batches) => {
          const scoper = createIncrementalScoper();
          const config = new Map<string, Resource>();
          // What an agent holds per region, built only from the ops the hub would publish.
          const agents = new Map<string, Record<string, ViewResource>>();
          for (const batch of batches) {
            for (const op of batch) {
              const key = 'put' in op ? resourceViewKey(op.put) : op.del;
              if ('put' in op) config.set(key, op.put);
              else config.delete(key);
              scoper.apply(key, 'put' in op ? op.put : undefined);
            }
            for (const [r, changes] of scoper.flush()) {
              const held = agents.get(r) ?? {};
              const next = fastJsonPatch.applyPatch(
                structuredClone(held),
                opsFromChanges(changes),
                true,
                false,
              ).newDocument;
              agents.set(r, next);
            }
            for (const r of REGIONS) {
              const expected = scopeRegion(r, config.values());
              const got = scoper.resources(r) ?? {};
              expect(got).toEqual(expected);
              expect(scoper.hash(r) ?? viewHash({})).toBe(viewHash(expected));
              expect(viewHash(agents.get(r) ?? {})).toBe(viewHash(expected));
            }
          }
        },
      ),
      { numRuns: Number(process.env.FEDMESH_PROPERTY_RUNS ?? 300) },
    );
  });

  it('scope - swapping endpoint addresses with the same healthy count changes no other region', () => {
    const scoper = createIncrementalScoper();
    for (const r of sampleMesh()) scoper.apply(resourceViewKey(r), r);
    scoper.flush();
    const moved = eps('payments', 'us-east', 3, 1) as Resource & {
      spec: { endpoints: { address: string }[] };
    };
    const before = sampleMesh().find((r) => r.metadata.name === 'payments-us-east')!;
    moved.metadata.name = before.metadata.name;
    moved.spec.endpoints.forEach((e, i) => {
      e.address = `10.2.9.${i}`;
    });
    scoper.apply(resourceViewKey(moved), moved);
    const changed = scoper.flush();
    expect([...changed.keys()]).toEqual(['us-east']);
  });

  it("scope - a healthy count reported ahead of the detail weights the other regions' gateway entry", () => {
    const scoper = createIncrementalScoper();
    for (const r of sampleMesh()) scoper.apply(resourceViewKey(r), r);
    scoper.flush();
    const key = 'RemoteEndpoints/shop/payments.us-east';
    expect((scoper.resources('eu-west')![key] as { spec: { healthy: number } }).spec.healthy).toBe(2);
    const counted = ownedEps('payments', 'us-east', 3, 1, 1);
    counted.metadata.name = 'payments-us-east';
    scoper.apply(resourceViewKey(counted), counted);
    const changed = scoper.flush();
    // us-east's own view leaves its agent's endpoints out; eu-west follows the count.
    expect([...changed.keys()].sort()).toEqual(['eu-west', 'us-east']);
    expect((scoper.resources('eu-west')![key] as { spec: { healthy: number } }).spec.healthy).toBe(1);
  });

  it('scope - regions that need one service elsewhere share one RemoteEndpoints object, renewed when its count changes', () => {
    const scoper = createIncrementalScoper();
    const mesh = [
      region('r1', 'eu', true),
      region('r2', 'eu', true),
      region('r3', 'us', true),
      svc('db'),
      svc('web', ['db']),
      eps('db', 'r3', 3),
      eps('web', 'r1', 1),
      eps('web', 'r2', 1),
    ];
    for (const r of mesh) scoper.apply(resourceViewKey(r), r);
    scoper.flush();
    const key = 'RemoteEndpoints/shop/db.r3';
    const held = () => [scoper.resources('r1')![key], scoper.resources('r2')![key]];
    const [a, b] = held();
    expect(a).toMatchObject({ spec: { healthy: 3, region: 'r3' } });
    expect(a).toBe(b);
    scoper.apply(resourceViewKey(eps('db', 'r3', 3, 1)), eps('db', 'r3', 3, 1));
    expect([...scoper.flush().keys()].sort()).toEqual(['r1', 'r2', 'r3']);
    const [c, d] = held();
    expect(c).toMatchObject({ spec: { healthy: 2 } });
    expect(c).toBe(d);
    expect(c).not.toBe(a);
    // Both views still hash as the from-scratch rule says.
    for (const r of ['r1', 'r2']) expect(scoper.hash(r)).toBe(viewHash(scoper.resources(r)!));
  });

  it('scope - a change to a service used only in eu-west reaches only eu-west', () => {
    const scoper = createIncrementalScoper();
    for (const r of sampleMesh()) scoper.apply(resourceViewKey(r), r);
    scoper.flush();
    const frontend = sampleMesh().find((r) => r.kind === 'Service' && r.metadata.name === 'frontend')!;
    const edited = structuredClone(frontend) as Resource & { metadata: { labels?: Record<string, string> } };
    edited.metadata.labels = { team: 'web' };
    scoper.apply(resourceViewKey(edited), edited);
    expect([...scoper.flush().keys()]).toEqual(['eu-west']);
  });
});

import { type Resource, sampleMesh } from '@fedmesh/shared';
import { describe, expect, it } from 'vitest';
import { scopeRegion } from './scoper.js';
import { eps, svc } from './test-fixtures.js';

const keys = (region: string, mesh: Resource[] = sampleMesh()) =>
  Object.keys(scopeRegion(region, mesh)).sort();

describe('scopeRegion (golden, sample mesh)', () => {
  it('scope - eu-west gets its local chain, payments with its policies, and us-east as one gateway entry', () => {
    expect(keys('eu-west')).toEqual([
      'AuthorizationPolicy/shop/payments',
      'Region/_/eu-west',
      'RemoteEndpoints/shop/payments.us-east',
      'Service/shop/checkout',
      'Service/shop/frontend',
      'Service/shop/payments',
      'ServiceEndpoints/shop/checkout-eu-west',
      'ServiceEndpoints/shop/frontend-eu-west',
      'ServiceEndpoints/shop/payments-eu-west',
      'TrafficPolicy/shop/payments',
      'TrafficRoute/shop/payments',
    ]);
    const remote = scopeRegion('eu-west', sampleMesh())['RemoteEndpoints/shop/payments.us-east'];
    // us-east runs three payments endpoints, one unhealthy: the aggregate weight is 2.
    expect(remote?.spec).toMatchObject({
      service: 'payments',
      region: 'us-east',
      healthy: 2,
      gateway: { port: 15443 },
    });
  });

  it('scope - us-east gets only payments (exported by label selector) and eu-west as a gateway entry', () => {
    expect(keys('us-east')).toEqual([
      'AuthorizationPolicy/shop/payments',
      'Region/_/us-east',
      'RemoteEndpoints/shop/payments.eu-west',
      'Service/shop/payments',
      'ServiceEndpoints/shop/payments-us-east',
      'TrafficPolicy/shop/payments',
      'TrafficRoute/shop/payments',
    ]);
  });

  it('scope - a region that runs nothing gets only its own Region', () => {
    expect(keys('ap-south')).toEqual(['Region/_/ap-south']);
  });

  it('scope - an unknown region gets an empty view', () => {
    expect(keys('nowhere')).toEqual([]);
  });

  it('scope - a dependency is needed one hop away, not two', () => {
    const mesh = sampleMesh().filter(
      (r) => !(r.kind === 'ServiceEndpoints' && r.metadata.name !== 'frontend-eu-west'),
    );
    // Only frontend runs in eu-west now: checkout (one hop) is needed, payments (two hops) is not.
    expect(keys('eu-west', mesh)).toEqual([
      'Region/_/eu-west',
      'Service/shop/checkout',
      'Service/shop/frontend',
      'ServiceEndpoints/shop/frontend-eu-west',
    ]);
  });

  it('scope - exportTo keeps a service out of a region that runs a caller', () => {
    const mesh: Resource[] = [
      ...sampleMesh().filter((r) => r.kind === 'Region'),
      svc('api', ['secret']),
      svc('secret', [], ['us-east']),
      eps('api', 'eu-west', 1),
      eps('secret', 'us-east', 1),
    ];
    expect(keys('eu-west', mesh)).toEqual([
      'Region/_/eu-west',
      'Service/shop/api',
      'ServiceEndpoints/shop/api-eu-west',
    ]);
  });

  it("scope - a region's agent-owned endpoints stay out of its own view, and still count for the others", () => {
    const mesh = sampleMesh().map((r) =>
      r.kind === 'ServiceEndpoints' && r.metadata.name === 'payments-eu-west'
        ? ({
            ...r,
            metadata: { ...r.metadata, annotations: { 'fedmesh.io/owner': 'agent/eu-west' } },
          } as Resource)
        : r,
    );
    expect(keys('eu-west', mesh)).not.toContain('ServiceEndpoints/shop/payments-eu-west');
    // payments still runs in eu-west: the Service and its routes are there, the agent fills in the endpoints.
    expect(keys('eu-west', mesh)).toContain('Service/shop/payments');
    expect(keys('us-east', mesh)).toContain('RemoteEndpoints/shop/payments.eu-west');
    expect(scopeRegion('us-east', mesh)['RemoteEndpoints/shop/payments.eu-west']).toEqual(
      scopeRegion('us-east', sampleMesh())['RemoteEndpoints/shop/payments.eu-west'],
    );
  });
});

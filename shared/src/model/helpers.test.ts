import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../errors.js';
import { sampleMesh } from './fixtures.js';
import {
  endpointHealthy,
  endpointWeight,
  exportMatches,
  parseDependsOn,
  refOf,
  resourceConfigKey,
  resourceViewKey,
} from './helpers.js';
import { KINDS } from './kinds.js';
import { CLUSTER_KINDS, isKnownKind, kindInfo, manifestJsonSchemas, NAMESPACED_KINDS } from './registry.js';
import type { ResourceOf } from './types.js';

// Tests poke at arbitrary depths of untyped manifests; typing every path would only add noise.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Loose = any;

const region = (name: string, labels?: Record<string, string>, metaLabels?: Record<string, string>) =>
  ({
    apiVersion: 'fedmesh.io/v1',
    kind: 'Region',
    metadata: { name, ...(metaLabels ? { labels: metaLabels } : {}) },
    spec: labels ? { labels } : {},
  }) as ResourceOf<'Region'>;
const service = (exportTo?: string[]) =>
  ({
    apiVersion: 'fedmesh.io/v1',
    kind: 'Service',
    metadata: { name: 's', namespace: 'ns' },
    spec: { ports: [{ name: 'http', port: 80, protocol: 'http' }], ...(exportTo ? { exportTo } : {}) },
  }) as ResourceOf<'Service'>;

describe('model - helpers', () => {
  it('model - refOf uses _ as the namespace of cluster-scoped kinds', () => {
    const [eu] = sampleMesh();
    expect(refOf(eu!)).toEqual({ kind: 'Region', namespace: '_', name: 'eu-west' });
    expect(resourceViewKey(eu!)).toBe('Region/_/eu-west');
    expect(resourceConfigKey(eu!)).toBe('Region._.eu-west');
    const svc = sampleMesh().find((r) => r.kind === 'Service')!;
    expect(resourceViewKey(svc)).toBe('Service/shop/frontend');
  });

  it('model - endpoint weight defaults to 1 and health to true', () => {
    expect(endpointWeight({})).toBe(1);
    expect(endpointWeight({ weight: 0 })).toBe(0);
    expect(endpointHealthy({})).toBe(true);
    expect(endpointHealthy({ healthy: false })).toBe(false);
  });

  it('model - parseDependsOn resolves a bare name in the own namespace', () => {
    expect(parseDependsOn('payments', 'shop')).toEqual({ namespace: 'shop', name: 'payments' });
    expect(parseDependsOn('billing/ledger', 'shop')).toEqual({ namespace: 'billing', name: 'ledger' });
    expect(() => parseDependsOn('../etc', 'shop')).toThrow(FedmeshError);
  });

  it.each<[string, string[] | undefined, boolean]>([
    ['absent exportTo', undefined, true],
    ['empty exportTo', [], true],
    ['a wildcard', ['*'], true],
    ['the region name', ['us-east', 'eu-west'], true],
    ['another region name', ['us-east'], false],
    ['a matching selector', ['cloud=aws,geo=eu'], true],
    ['a selector with one mismatch', ['cloud=aws,geo=us'], false],
    ['a selector on a missing label', ['tier=gold'], false],
    ['a selector on a metadata label', ['env=prod'], true],
  ])('model - exportMatches with %s', (_what, exportTo, expected) => {
    const eu = region('eu-west', { cloud: 'aws', geo: 'eu' }, { env: 'prod' });
    expect(exportMatches(service(exportTo), eu)).toBe(expected);
  });

  it('model - the registry knows every kind and its scope', () => {
    expect(CLUSTER_KINDS).toEqual(['Region']);
    expect([...CLUSTER_KINDS, ...NAMESPACED_KINDS].sort()).toEqual([...KINDS].sort());
    for (const kind of KINDS) expect(kindInfo(kind).kind).toBe(kind);
    expect(isKnownKind('Service')).toBe(true);
    expect(isKnownKind('toString')).toBe(false);
    expect(isKnownKind('__proto__')).toBe(false);
  });

  it('model - produces a JSON Schema for every kind', () => {
    const schemas = manifestJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([...KINDS].sort());
    for (const kind of KINDS) {
      const s = schemas[kind] as Loose;
      expect(s.type).toBe('object');
      expect(s.additionalProperties).toBe(false);
      expect(s.properties.kind.const).toBe(kind);
      expect(s.properties.spec.additionalProperties).toBe(false);
      expect(() => JSON.stringify(s)).not.toThrow();
    }
  });
});

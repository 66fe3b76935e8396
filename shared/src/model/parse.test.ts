import { describe, expect, it } from 'vitest';
import { FedmeshError } from '../errors.js';
import { sampleMesh } from './fixtures.js';
import type { Kind } from './kinds.js';
import { KINDS } from './kinds.js';
import { parseManifest, validateManifest } from './parse.js';
import type { Resource } from './types.js';

// Tests poke at arbitrary depths of untyped manifests; typing every path would only add noise.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Loose = any;

function sample(kind: Kind): Record<string, unknown> {
  const found = sampleMesh().find((r) => r.kind === kind);
  if (!found) throw new Error(`no sample ${kind}`);
  return structuredClone(found) as unknown as Record<string, unknown>;
}

/** Applies `mutate` to a sample of `kind` and returns the issues parseManifest reports. */
function issuesOf(kind: Kind, mutate: (m: Loose) => void, opts = {}) {
  const m = sample(kind);
  mutate(m);
  try {
    parseManifest(m, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(FedmeshError);
    const e = err as FedmeshError;
    expect(e.code).toBe('invalid');
    return e.issues;
  }
  throw new Error('expected parseManifest to throw');
}

describe('model - parseManifest', () => {
  it.each(KINDS)('model - accepts the sample %s and keeps it as written', (kind) => {
    const m = sample(kind);
    const parsed = parseManifest(m);
    expect(parsed).toEqual(m);
    expect(parsed).not.toBe(m);
  });

  it('model - accepts every resource of the sample mesh', () => {
    for (const r of sampleMesh()) expect(parseManifest(r)).toEqual(r);
  });

  it('model - does not fill defaults into the stored manifest', () => {
    const parsed = parseManifest(sample('ServiceEndpoints')) as Resource & { kind: 'ServiceEndpoints' };
    expect(parsed.spec.endpoints[0]).not.toHaveProperty('weight');
    expect(parsed.spec.endpoints[0]).not.toHaveProperty('healthy');
  });

  it('model - fills a missing namespace from the default namespace', () => {
    const m = sample('Service');
    delete (m.metadata as Record<string, unknown>).namespace;
    expect(parseManifest(m, { defaultNamespace: 'shop' }).metadata.namespace).toBe('shop');
  });

  it('model - keeps an explicit namespace over the default', () => {
    expect(parseManifest(sample('Service'), { defaultNamespace: 'other' }).metadata.namespace).toBe('shop');
  });

  it('model - requires a namespace for namespaced kinds', () => {
    const issues = issuesOf('Service', (m) => delete m.metadata.namespace);
    expect(issues).toEqual([{ path: 'metadata.namespace', message: expect.stringMatching(/required/) }]);
  });

  it('model - validates the default namespace like Loose other', () => {
    const issues = issuesOf('Service', (m) => delete m.metadata.namespace, { defaultNamespace: '../etc' });
    expect(issues.map((i) => i.path)).toContain('metadata.namespace');
  });

  it("model - normalizes a cluster-scoped namespace '_' to absent", () => {
    const m = sample('Region');
    (m.metadata as Record<string, unknown>).namespace = '_';
    const parsed = parseManifest(m, { defaultNamespace: 'shop' });
    expect(parsed.metadata).not.toHaveProperty('namespace');
  });

  it('model - rejects a namespace on a cluster-scoped kind', () => {
    const issues = issuesOf('Region', (m) => (m.metadata.namespace = 'shop'));
    expect(issues).toEqual([
      { path: 'metadata.namespace', message: expect.stringMatching(/cluster-scoped/) },
    ]);
  });

  it('model - rejects an unknown field and names its path', () => {
    const m = sample('Service') as Loose;
    m.spec.ports[0].portt = 80;
    expect(() => parseManifest(m)).toThrow(/spec\.ports\.0\.portt: unknown field/);
  });

  it('model - rejects an unknown kind and lists the valid kinds', () => {
    const issues = issuesOf('Service', (m) => (m.kind = 'Gateway'));
    expect(issues).toEqual([{ path: 'kind', message: expect.stringContaining('Region, Service') }]);
  });

  it('model - rejects a missing or wrong apiVersion', () => {
    expect(issuesOf('Service', (m) => delete m.apiVersion)).toEqual([
      { path: 'apiVersion', message: expect.stringMatching(/required/) },
    ]);
    expect(issuesOf('Service', (m) => (m.apiVersion = 'v1'))).toEqual([
      { path: 'apiVersion', message: 'must be "fedmesh.io/v1"' },
    ]);
  });

  it('model - rejects something that is not an object', () => {
    for (const input of [null, 'x', 42, [], undefined]) {
      expect(() => parseManifest(input)).toThrow(FedmeshError);
    }
  });

  it('model - validateManifest returns issues instead of throwing', () => {
    const res = validateManifest({ apiVersion: 'fedmesh.io/v1', kind: 'Nope' });
    expect(res.ok).toBe(false);
  });

  it.each<[string, Kind, (m: Loose) => void, string, RegExp?]>([
    ['an upper-case name', 'Service', (m) => (m.metadata.name = 'Payments'), 'metadata.name', /DNS-1123/],
    ['a 64-character name', 'Service', (m) => (m.metadata.name = 'a'.repeat(64)), 'metadata.name', /63/],
    ['a path-like name', 'Region', (m) => (m.metadata.name = '../etc'), 'metadata.name'],
    ['a name ending in -', 'Region', (m) => (m.metadata.name = 'eu-'), 'metadata.name'],
    ['a missing name', 'Region', (m) => delete m.metadata.name, 'metadata.name', /required/],
    ['a bad label key', 'Region', (m) => (m.metadata.labels = { 'a b': 'x' }), 'metadata.labels.a b', /key/],
    ['a bad label value', 'Region', (m) => (m.spec.labels = { geo: 'e=u' }), 'spec.labels.geo'],
    ['a missing spec', 'Region', (m) => delete m.spec, 'spec', /required/],
    ['a bad link budget', 'Region', (m) => (m.spec.link.budget = '2Mbit'), 'spec.link.budget', /\/s/],
    ['a zero link budget', 'Region', (m) => (m.spec.link.budget = 0), 'spec.link.budget', /greater than 0/],
    ['a link budget of the wrong type', 'Region', (m) => (m.spec.link.budget = true), 'spec.link.budget'],
    [
      'a link budget of 1e308',
      'Region',
      (m) => (m.spec.link.budget = 1e308),
      'spec.link.budget',
      /at most 100Gbit\/s/,
    ],
    [
      'a link budget over 100 Gbit/s',
      'Region',
      (m) => (m.spec.link.budget = '101Gbit/s'),
      'spec.link.budget',
      /at most/,
    ],
    ['a burst over 1 TiB', 'Region', (m) => (m.spec.link.burst = '2TiB'), 'spec.link.burst', /at most 1TiB/],
    ['a bad burst', 'Region', (m) => (m.spec.link.burst = '1MiB/s'), 'spec.link.burst'],
    [
      'a bad gateway address',
      'Region',
      (m) => (m.spec.gateway.address = 'not an address'),
      'spec.gateway.address',
    ],
    ['a gateway port out of range', 'Region', (m) => (m.spec.gateway.port = 70000), 'spec.gateway.port'],
    ['no ports', 'Service', (m) => (m.spec.ports = []), 'spec.ports', /at least one/],
    ['a bad protocol', 'Service', (m) => (m.spec.ports[0].protocol = 'udp'), 'spec.ports.0.protocol'],
    ['a fractional port', 'Service', (m) => (m.spec.ports[0].port = 80.5), 'spec.ports.0.port'],
    [
      'a duplicate port name',
      'Service',
      (m) => m.spec.ports.push({ name: m.spec.ports[0].name, port: 1, protocol: 'tcp' }),
      'spec.ports.1.name',
      /duplicate/,
    ],
    [
      'a duplicate port number',
      'Service',
      (m) => m.spec.ports.push({ name: 'other', port: m.spec.ports[0].port, protocol: 'tcp' }),
      'spec.ports.1.port',
      /duplicate/,
    ],
    ['a bad exportTo entry', 'Service', (m) => (m.spec.exportTo = ['*', '=eu']), 'spec.exportTo.1'],
    ['a bad dependsOn entry', 'Service', (m) => (m.spec.dependsOn = ['a/b/c']), 'spec.dependsOn.0'],
    [
      'a bad endpoint address',
      'ServiceEndpoints',
      (m) => (m.spec.endpoints[0].address = ''),
      'spec.endpoints.0.address',
    ],
    [
      'a negative weight',
      'ServiceEndpoints',
      (m) => (m.spec.endpoints[0].weight = -1),
      'spec.endpoints.0.weight',
    ],
    [
      'a string health',
      'ServiceEndpoints',
      (m) => (m.spec.endpoints[0].healthy = 'yes'),
      'spec.endpoints.0.healthy',
    ],
    [
      'a duplicate endpoint',
      'ServiceEndpoints',
      (m) => m.spec.endpoints.push({ ...m.spec.endpoints[0] }),
      'spec.endpoints.2',
      /duplicate endpoint/,
    ],
    ['a missing region', 'ServiceEndpoints', (m) => delete m.spec.region, 'spec.region', /required/],
    ['no rules', 'TrafficRoute', (m) => (m.spec.rules = []), 'spec.rules'],
    ['no backends', 'TrafficRoute', (m) => (m.spec.rules[0].backends = []), 'spec.rules.0.backends'],
    [
      'all-zero weights',
      'TrafficRoute',
      (m) => {
        for (const b of m.spec.rules[0].backends) b.weight = 0;
      },
      'spec.rules.0.backends',
      /weight > 0/,
    ],
    [
      'a missing weight',
      'TrafficRoute',
      (m) => delete m.spec.rules[0].backends[0].weight,
      'spec.rules.0.backends.0.weight',
    ],
    [
      'two path matchers',
      'TrafficRoute',
      (m) => (m.spec.rules[0].matches = [{ path: { prefix: '/', exact: '/a' } }]),
      'spec.rules.0.matches.0.path',
      /exactly one/,
    ],
    [
      'no header matcher',
      'TrafficRoute',
      (m) => (m.spec.rules[0].matches = [{ headers: [{ name: 'x-user' }] }]),
      'spec.rules.0.matches.0.headers.0',
      /exactly one/,
    ],
    [
      'a bad regex',
      'TrafficRoute',
      (m) => (m.spec.rules[0].matches = [{ path: { regex: '(' } }]),
      'spec.rules.0.matches.0.path.regex',
    ],
    [
      'a prefix without a slash',
      'TrafficRoute',
      (m) => (m.spec.rules[0].matches = [{ path: { prefix: 'api' } }]),
      'spec.rules.0.matches.0.path.prefix',
    ],
    [
      'a bad timeout',
      'TrafficRoute',
      (m) => (m.spec.rules[0].timeout = '2'),
      'spec.rules.0.timeout',
      /missing unit/,
    ],
    [
      'bad retries',
      'TrafficRoute',
      (m) => (m.spec.rules[0].retries.attempts = -1),
      'spec.rules.0.retries.attempts',
    ],
    [
      'a bad retryOn',
      'TrafficRoute',
      (m) => (m.spec.rules[0].retries.retryOn = ['never']),
      'spec.rules.0.retries.retryOn.0',
    ],
    ['a bad failover region', 'TrafficRoute', (m) => (m.spec.failover = ['EU']), 'spec.failover.0'],
    ['a bad load balancer', 'TrafficPolicy', (m) => (m.spec.loadBalancer = 'fastest'), 'spec.loadBalancer'],
    [
      'a duplicate subset',
      'TrafficPolicy',
      (m) => m.spec.subsets.push({ name: 'v1', labels: {} }),
      'spec.subsets.2.name',
      /duplicate subset/,
    ],
    [
      'a zero circuit breaker',
      'TrafficPolicy',
      (m) => (m.spec.circuitBreaker.maxConnections = 0),
      'spec.circuitBreaker.maxConnections',
    ],
    [
      'an ejection percent above 100',
      'TrafficPolicy',
      (m) => (m.spec.outlierDetection.maxEjectionPercent = 101),
      'spec.outlierDetection.maxEjectionPercent',
    ],
    [
      'a zero interval',
      'TrafficPolicy',
      (m) => (m.spec.outlierDetection.interval = '0s'),
      'spec.outlierDetection.interval',
    ],
    ['a bad action', 'AuthorizationPolicy', (m) => (m.spec.action = 'audit'), 'spec.action'],
    [
      'a bad caller',
      'AuthorizationPolicy',
      (m) => (m.spec.rules[0].from = ['Shop/*x']),
      'spec.rules.0.from.0',
    ],
    ['no callers', 'AuthorizationPolicy', (m) => (m.spec.rules[0].from = []), 'spec.rules.0.from'],
    [
      'a bad method',
      'AuthorizationPolicy',
      (m) => (m.spec.rules[0].methods = ['get']),
      'spec.rules.0.methods.0',
    ],
    ['a bad path', 'AuthorizationPolicy', (m) => (m.spec.rules[0].paths = ['/a*b']), 'spec.rules.0.paths.0'],
  ])('model - rejects %s at the right path', (_what, kind, mutate, path, message) => {
    const issues = issuesOf(kind, mutate);
    const at = issues.filter((i) => i.path === path);
    expect(at, JSON.stringify(issues)).not.toHaveLength(0);
    for (const i of at) expect(i.message.length).toBeGreaterThan(0);
    if (message) expect(at.map((i) => i.message).join('\n')).toMatch(message);
  });

  it('model - reports every problem, not just the first', () => {
    const issues = issuesOf('Service', (m) => {
      m.metadata.name = 'BAD';
      m.spec.ports[0].port = 0;
      m.spec.extra = 1;
    });
    expect(issues.map((i) => i.path).sort()).toEqual(['metadata.name', 'spec.extra', 'spec.ports.0.port']);
  });

  it('model - accepts the optional shapes an Istio user would write', () => {
    const route = sample('TrafficRoute') as Loose;
    route.spec.rules.unshift({
      name: 'beta-users',
      matches: [
        {
          path: { prefix: '/api' },
          headers: [
            { name: 'x-beta', exact: 'true' },
            { name: ':authority', present: true },
          ],
        },
        { path: { regex: '^/v[0-9]+/' }, method: 'POST' },
      ],
      backends: [{ subset: 'v2', weight: 1 }],
      retries: { attempts: 0, retryOn: ['503', 'gateway-error'] },
    });
    route.spec.rules.push({ backends: [{ weight: 1 }] });
    expect(() => parseManifest(route)).not.toThrow();

    const svc = sample('Service') as Loose;
    svc.spec.exportTo = ['*', 'eu-west', 'cloud=aws,geo=eu'];
    svc.spec.dependsOn = ['billing/ledger', 'audit'];
    expect(() => parseManifest(svc)).not.toThrow();

    const authz = sample('AuthorizationPolicy') as Loose;
    authz.spec.rules.push({
      from: ['*', 'billing/*', 'frontend'],
      methods: ['GET'],
      paths: ['*/healthz', '/'],
    });
    expect(() => parseManifest(authz)).not.toThrow();
  });
});

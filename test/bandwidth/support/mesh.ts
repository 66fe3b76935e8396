/**
 * A deterministic generator of large meshes for bandwidth tests and benchmarks. The values carry
 * some entropy (addresses, pod-template hashes, weights), so compression ratios measured on them
 * are not flattered by perfectly regular text.
 */
import { API_VERSION, type Resource } from '@fedmesh/shared';

export interface MeshShape {
  /** Services in the mesh, spread over `namespaces`. */
  services: number;
  namespaces?: number;
  /** Region names; the first one gets the most endpoints. */
  regions?: readonly string[];
  /** Endpoints per (service, region) where the service runs. */
  endpointsPerService?: number;
  /** Link budget written into every Region (e.g. '32KiB/s'); absent leaves the line unmetered. */
  link?: { budget: string; burst?: string };
  seed?: number;
}

export const DEFAULT_REGIONS = ['eu-west', 'us-east', 'ap-south'] as const;

/** A seeded PRNG (mulberry32): the same seed always yields the same mesh. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = ['a', 'b', 'c'];
const TEAMS = ['payments', 'search', 'identity', 'catalog', 'growth', 'ops', 'ml', 'web'];

export function generateMesh(shape: MeshShape): Resource[] {
  const rnd = prng(shape.seed ?? 1);
  const int = (n: number) => Math.floor(rnd() * n);
  const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdef'[int(16)]).join('');
  const regions = shape.regions ?? DEFAULT_REGIONS;
  const namespaces = shape.namespaces ?? Math.max(1, Math.ceil(shape.services / 250));
  const perService = shape.endpointsPerService ?? 3;
  const out: Resource[] = regions.map((name, i) => ({
    apiVersion: API_VERSION,
    kind: 'Region',
    metadata: { name },
    spec: {
      labels: { geo: name.split('-')[0] ?? name, tier: i === 0 ? 'primary' : 'secondary' },
      ...(shape.link ? { link: { ...shape.link } } : {}),
      gateway: { address: `10.${100 + i}.0.10`, port: 15443 },
    },
  }));
  for (let s = 0; s < shape.services; s++) {
    const ns = `ns-${s % namespaces}`;
    const name = `svc-${s}`;
    const team = TEAMS[s % TEAMS.length]!;
    const deps = [1, 2].map((d) => `svc-${(s + d * namespaces) % shape.services}`).filter((d) => d !== name);
    out.push({
      apiVersion: API_VERSION,
      kind: 'Service',
      metadata: { name, namespace: ns, labels: { team } },
      spec: {
        ports: [
          { name: 'http', port: 8080, protocol: 'http' },
          ...(s % 3 === 0 ? [{ name: 'grpc', port: 9090, protocol: 'grpc' as const }] : []),
        ],
        ...(deps.length ? { dependsOn: [...new Set(deps)] } : {}),
      },
    });
    // Every service runs in the first region; about a third also run in one other region.
    const homes = [
      regions[0]!,
      ...(s % 3 === 0 && regions.length > 1 ? [regions[1 + (s % (regions.length - 1))]!] : []),
    ];
    for (const [ri, region] of homes.entries()) {
      const rIndex = regions.indexOf(region);
      out.push({
        apiVersion: API_VERSION,
        kind: 'ServiceEndpoints',
        metadata: { name: `${name}-${region}`, namespace: ns },
        spec: {
          service: name,
          region,
          endpoints: uniqueAddresses(
            ri === 0 ? perService : Math.max(1, perService >> 1),
            () => `10.${rIndex}.${int(256)}.${int(256)}`,
          ).map((address, e) => ({
            address,
            port: 8080,
            zone: `${region}-1${ZONES[e % ZONES.length]}`,
            ...(int(10) === 0 ? { weight: 1 + int(4) } : {}),
            ...(int(20) === 0 ? { healthy: false } : {}),
            labels: { version: e % 4 === 3 ? 'v2' : 'v1', 'pod-template-hash': hex(10) },
          })),
        },
      });
    }
    if (s % 3 === 0) {
      out.push({
        apiVersion: API_VERSION,
        kind: 'TrafficPolicy',
        metadata: { name, namespace: ns },
        spec: {
          service: name,
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
          loadBalancer: s % 2 ? 'least_request' : 'round_robin',
          circuitBreaker: { maxConnections: 100 * (1 + int(20)), maxPendingRequests: 10 * (1 + int(20)) },
          outlierDetection: {
            consecutive5xx: 5,
            interval: '10s',
            baseEjectionTime: '30s',
            maxEjectionPercent: 50,
          },
        },
      });
      out.push({
        apiVersion: API_VERSION,
        kind: 'TrafficRoute',
        metadata: { name, namespace: ns },
        spec: {
          service: name,
          rules: [
            {
              name: 'canary',
              matches: [{ path: { prefix: `/${name}/v2/` } }],
              backends: [
                { subset: 'v1', weight: 90 - int(20) },
                { subset: 'v2', weight: 10 + int(20) },
              ],
              timeout: `${1 + int(5)}s`,
            },
            { name: 'default', backends: [{ subset: 'v1', weight: 100 }], timeout: '2s' },
          ],
        },
      });
    }
    if (s % 5 === 0 && deps.length) {
      out.push({
        apiVersion: API_VERSION,
        kind: 'AuthorizationPolicy',
        metadata: { name, namespace: ns },
        spec: {
          service: name,
          action: 'allow',
          rules: [{ from: [`${ns}/${deps[0]}`], paths: [`/${name}.v1.*`] }],
        },
      });
    }
  }
  return out as Resource[];
}

/**
 * A fresh set of endpoints for one ServiceEndpoints resource: what a rolling restart looks like
 * to the hub. Used to build backlogs of deltas.
 */
export function rollEndpoints(resource: Resource, seed: number): Resource {
  if (resource.kind !== 'ServiceEndpoints') throw new Error(`${resource.kind} is not ServiceEndpoints`);
  const rnd = prng(seed);
  const hex = (n: number) =>
    Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
  const fresh = uniqueAddresses(resource.spec.endpoints.length, () => {
    const prefix = resource.spec.endpoints[0]?.address.split('.').slice(0, 2).join('.') ?? '10.0';
    return `${prefix}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`;
  });
  return {
    ...resource,
    spec: {
      ...resource.spec,
      endpoints: resource.spec.endpoints.map((e, i) => ({
        ...e,
        address: fresh[i]!,
        labels: { ...e.labels, 'pod-template-hash': hex(10) },
      })),
    },
  };
}

/** `n` distinct addresses from `draw` (endpoint addresses must be unique within a resource). */
function uniqueAddresses(n: number, draw: () => string): string[] {
  const seen = new Set<string>();
  while (seen.size < n) seen.add(draw());
  return [...seen];
}

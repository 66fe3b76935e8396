/**
 * A seeded, deterministic mesh and churn generator for the benchmarks. The defaults come from the
 * published figures in WORKLOADS.md where one exists; where none does, the value is an assumption
 * and says so (`DEFAULT_WORKLOAD` documents each). The same options and seed always give the same
 * mesh and the same change stream, byte for byte.
 *
 * Shape of the mesh:
 * - services split entry / middle / leaf by call pattern (entry calls, is not called; middle both;
 *   leaf is only called);
 * - dependencies: a tree backbone (every middle and leaf service has one caller, as call graphs are
 *   mostly tree-like) plus extra edges whose count per caller follows a power law and whose targets
 *   follow a Zipf popularity, so in-degree is long-tailed: most services are called by one or two,
 *   a few shared ones by hundreds or thousands; no cycles (a caller only calls later services);
 * - each service runs in 1–3 regions; its instances are log-normal around the class mean, split
 *   evenly over its regions;
 * - a fraction of services has a TrafficPolicy (subsets v1/v2), some of those a TrafficRoute, some
 *   services an AuthorizationPolicy, a few a restricted `exportTo`.
 */
import {
  API_VERSION,
  canonicalOrder,
  LOAD_BALANCERS,
  type Resource,
  type ResourceOf,
  viewKey,
} from '@fedmesh/shared';

/** Relative weights of the kinds of change in the churn stream (normalised when drawn). */
export interface ChurnMix {
  /** One endpoint fails or passes its health check: a healthy toggle. */
  endpointFlap: number;
  /** A deployment scales up or down by a few instances: the healthy count changes. */
  scale: number;
  /** A pod restarts with a new address; the healthy count stays. */
  restart: number;
  /** A rollout step: a TrafficRoute's v1/v2 weights move by 10. */
  rollout: number;
  /** A new service with its endpoints (and maybe policies), called by an existing one. */
  newService: number;
  /** A TrafficPolicy or AuthorizationPolicy is edited. */
  policyEdit: number;
}
export type ChangeKind = keyof ChurnMix;
export const CHANGE_KINDS: readonly ChangeKind[] = [
  'endpointFlap',
  'scale',
  'restart',
  'rollout',
  'newService',
  'policyEdit',
];

export interface ByClass {
  entry: number;
  middle: number;
  leaf: number;
}

export interface WorkloadOptions {
  services: number;
  regions: number;
  seed: number;
  mix: ChurnMix;
  /** Share of services by call pattern. */
  classShare: ByClass;
  /** Mean instances (endpoints over all regions) per service, by class. */
  instancesMean: ByClass;
  /** Sigma of the log-normal instance count: the width of its long tail. */
  instancesSigma: number;
  /** Cap on instances per service, so one draw cannot dominate a small mesh. */
  maxInstances: number;
  /** Zipf exponent of callee popularity for the extra dependency edges. */
  zipfExponent: number;
  /** Power-law exponent of the number of extra dependencies per caller: P(k) ∝ (k+1)^-a. */
  extraDepsExponent: number;
  /** Each service runs in 1..maxRegionsPerService regions, uniformly. */
  maxRegionsPerService: number;
  /**
   * Probability that a service's first region is one of its (tree) caller's regions; 0 places
   * services uniformly, the least favourable case for scoping.
   */
  affinity: number;
  servicesPerNamespace: number;
  /** Share of services with a TrafficPolicy (subsets v1/v2, load balancer, circuit breaker). */
  policyFraction: number;
  /** Share of services with a policy that also have a TrafficRoute (a v1/v2 split). */
  routeFraction: number;
  /** Share of services with an AuthorizationPolicy. */
  authzFraction: number;
  /** Share of services exported only to their geo (and their own regions). */
  exportFraction: number;
  /** Share of endpoints unhealthy at the start. */
  unhealthyFraction: number;
}

/**
 * Defaults, and where each comes from ("assumption" where WORKLOADS.md gives no figure):
 * - services 10,000 and regions 50: the goal scenario of issue 7;
 * - classShare 13/48/39 and instancesMean 16/41/17: Alibaba 2022 trace, Table 1 (entry/middle/leaf
 *   shares and instances per microservice);
 * - instancesSigma 1, maxInstances 2000: assumption for "long-tailed around tens" (WORKLOADS.md);
 * - zipfExponent 1, extraDepsExponent 2.5: assumption shaped to WORKLOADS.md's "most services call
 *   0–3 others, a few shared services are called by thousands" (Alibaba 2022: long-tailed in- and
 *   out-degree); the tree backbone follows Alibaba 2021 ("mostly tree-like");
 * - maxRegionsPerService 3: WORKLOADS.md "each service in 1–3 regions"; affinity 0 (assumption:
 *   no published figure on co-location, so the pessimistic uniform placement);
 * - churn mix: WORKLOADS.md orders it (endpoints — scaling, restarts, failing health checks — then
 *   rollout weight changes, then new services and policy edits); the proportions are assumptions;
 * - servicesPerNamespace, policy/route/authz/export fractions, unhealthyFraction: assumptions.
 */
export const DEFAULT_WORKLOAD: Readonly<WorkloadOptions> = Object.freeze({
  services: 10_000,
  regions: 50,
  seed: 1,
  mix: Object.freeze({
    endpointFlap: 35,
    scale: 25,
    restart: 25,
    rollout: 10,
    newService: 3,
    policyEdit: 2,
  }),
  classShare: Object.freeze({ entry: 0.13, middle: 0.48, leaf: 0.39 }),
  instancesMean: Object.freeze({ entry: 16, middle: 41, leaf: 17 }),
  instancesSigma: 1,
  maxInstances: 2000,
  zipfExponent: 1,
  extraDepsExponent: 2.5,
  maxRegionsPerService: 3,
  affinity: 0,
  servicesPerNamespace: 50,
  policyFraction: 0.2,
  routeFraction: 0.5,
  authzFraction: 0.1,
  exportFraction: 0.05,
  unhealthyFraction: 0.02,
});

/** One config write: a put carries the new resource, a delete none. `key` is the view key. */
export interface Write {
  key: string;
  resource: Resource | undefined;
}
/** One change of the stream: the writes one event makes, applied together. */
export interface Change {
  kind: ChangeKind;
  writes: Write[];
}

export interface WorkloadStats {
  services: number;
  regions: number;
  resources: number;
  byKind: Record<string, number>;
  endpoints: number;
  byClass: ByClass;
  /** Mean regions per service. */
  regionsPerService: number;
  /** Mean endpoints per (service, region). */
  endpointsPerServiceRegion: number;
  endpointsPerServiceRegionP99: number;
  dependencyEdges: number;
  outDegree: { mean: number; p50: number; p99: number; max: number; shareAtMost3: number };
  inDegree: { mean: number; p50: number; p99: number; max: number };
}

export interface Workload {
  readonly options: Readonly<WorkloadOptions>;
  readonly regionNames: readonly string[];
  /** The mesh as generated, regions first, then services, then what refers to them. */
  readonly initial: readonly Resource[];
  /** The next change, generated against the state left by the previous ones. */
  nextChange(): Change;
  /** The mesh now: initial plus every change generated so far, by view key. */
  current(): ReadonlyMap<string, Resource>;
  /** Figures of the mesh as generated. */
  stats(): WorkloadStats;
}

export function createWorkload(overrides: Partial<WorkloadOptions> = {}): Workload {
  const options = Object.freeze({
    ...DEFAULT_WORKLOAD,
    ...overrides,
    mix: Object.freeze({ ...DEFAULT_WORKLOAD.mix, ...overrides.mix }),
  });
  return new Generator(options);
}

// ---- randomness ---------------------------------------------------------------------------------

/** sfc32 seeded through splitmix32: fast, good enough for workloads, same sequence everywhere. */
export function createRng(seed: number): () => number {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = split();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** Sampling from a fixed discrete distribution by binary search over cumulative weights. */
class Discrete {
  private readonly cum: Float64Array;
  constructor(weights: ArrayLike<number>) {
    this.cum = new Float64Array(weights.length);
    let acc = 0;
    for (let i = 0; i < weights.length; i++) {
      acc += weights[i]!;
      this.cum[i] = acc;
    }
  }
  sample(u: number): number {
    const target = u * this.cum[this.cum.length - 1]!;
    let lo = 0;
    let hi = this.cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cum[mid]! <= target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** A Fenwick tree of weights that change: endpoint churn picks a ServiceEndpoints by its size. */
class WeightedPicker {
  private tree = new Float64Array(1024);
  private weights: number[] = [];

  get size(): number {
    return this.weights.length;
  }

  push(weight: number): number {
    const i = this.weights.length;
    if (i + 1 >= this.tree.length) {
      const next = new Float64Array(this.tree.length * 2);
      const w = this.weights;
      this.tree = next;
      this.weights = [];
      for (const x of w) this.push(x);
    }
    this.weights.push(0);
    this.set(i, weight);
    return i;
  }

  set(i: number, weight: number): void {
    const delta = weight - this.weights[i]!;
    this.weights[i] = weight;
    for (let j = i + 1; j < this.tree.length; j += j & -j) this.tree[j]! += delta;
  }

  pick(u: number): number {
    let total = 0;
    for (let j = this.weights.length; j > 0; j -= j & -j) total += this.tree[j]!;
    let target = u * total;
    let pos = 0;
    for (let step = highestPowerOfTwo(this.tree.length - 1); step > 0; step >>= 1) {
      const next = pos + step;
      if (next < this.tree.length && this.tree[next]! <= target) {
        pos = next;
        target -= this.tree[next]!;
      }
    }
    return Math.min(pos, this.weights.length - 1);
  }
}

function highestPowerOfTwo(n: number): number {
  let p = 1;
  while (p * 2 <= n) p *= 2;
  return p;
}

// ---- names --------------------------------------------------------------------------------------

// biome-ignore format: a word list reads better packed
const DOMAINS = [
  'order', 'cart', 'pay', 'user', 'auth', 'search', 'catalog', 'price', 'stock', 'ship', 'review',
  'promo', 'ads', 'feed', 'media', 'notify', 'mail', 'sms', 'risk', 'fraud', 'ledger', 'invoice',
  'tax', 'geo', 'route', 'map', 'chat', 'social', 'profile', 'session', 'config', 'metric', 'log',
  'audit', 'report', 'billing', 'wallet', 'coupon', 'member', 'device',
];
const ROLES = [
  'api',
  'svc',
  'worker',
  'gateway',
  'cache',
  'store',
  'query',
  'writer',
  'sync',
  'agg',
  'bff',
  'job',
];
const CLOUDS = ['aws', 'gcp', 'azure', 'idc'];
const GEOS = ['eu', 'us', 'ap', 'sa', 'me'];
// The sample mesh's link budgets (deploy/examples): the bench has no published figure for them.
const LINKS = [
  { budget: '256KiB/s', burst: '1MiB' },
  { budget: '2Mbit/s', burst: '512KiB' },
  { budget: '128KiB/s' },
];
const PROTOCOLS = [
  { protocol: 'http' as const, port: 8080, share: 0.5 },
  { protocol: 'grpc' as const, port: 9090, share: 0.4 },
  { protocol: 'tcp' as const, port: 5432, share: 0.1 },
];

// ---- the generator ------------------------------------------------------------------------------

type Cls = keyof ByClass;

interface Svc {
  index: number;
  namespace: string;
  name: string;
  cls: Cls;
  regions: string[];
  deps: number[];
  callers: number[];
  port: number;
  protocol: 'http' | 'grpc' | 'tcp';
  policy: boolean;
  route: boolean;
  authz: boolean;
  exportGeo: string | undefined;
}

interface EpsSlot {
  key: string;
  svc: number;
  region: string;
}

class Generator implements Workload {
  readonly regionNames: string[];
  readonly initial: Resource[];
  private readonly rng: () => number;
  private readonly state = new Map<string, Resource>();
  private readonly svcs: Svc[] = [];
  private readonly regionIndex = new Map<string, number>();
  private readonly addrCounter: number[];
  private readonly slots: EpsSlot[] = [];
  private readonly byInstances = new WeightedPicker();
  private readonly routes: string[] = [];
  private readonly policies: string[] = [];
  private readonly mix: Discrete;
  private readonly callees: Discrete;
  private readonly calleeOrder: number[];
  private readonly extraDeps: Discrete;
  private readonly classes: Discrete;

  constructor(readonly options: Readonly<WorkloadOptions>) {
    const o = options;
    if (!(o.services >= 1 && o.regions >= 1)) throw new Error('workload: services and regions must be >= 1');
    this.rng = createRng(o.seed);
    this.mix = new Discrete(CHANGE_KINDS.map((k) => Math.max(0, o.mix[k])));
    this.classes = new Discrete([o.classShare.entry, o.classShare.middle, o.classShare.leaf]);
    this.extraDeps = new Discrete(Array.from({ length: 64 }, (_, k) => (k + 1) ** -o.extraDepsExponent));
    this.regionNames = Array.from({ length: o.regions }, (_, i) => regionName(i));
    for (const [i, r] of this.regionNames.entries()) this.regionIndex.set(r, i);
    this.addrCounter = this.regionNames.map(() => 0);

    // Classes in index order entry, middle, leaf: a caller only calls higher indices, so no cycles.
    const n = o.services;
    const entries = Math.max(1, Math.round(n * o.classShare.entry));
    const middles = Math.min(n - entries, Math.round(n * o.classShare.middle));
    for (let i = 0; i < n; i++) {
      const cls: Cls = i < entries ? 'entry' : i < entries + middles ? 'middle' : 'leaf';
      this.svcs.push(this.newSvc(i, cls));
    }
    // Zipf popularity over callees (middle and leaf) in a random order, so rank is not index.
    this.calleeOrder = shuffle(
      Array.from({ length: n - entries }, (_, k) => entries + k),
      this.rng,
    );
    this.callees = new Discrete(this.calleeOrder.map((_, r) => (r + 1) ** -o.zipfExponent));
    const callers = entries + middles;
    for (let i = entries; i < n; i++) {
      // Tree backbone: every callee has one caller before it.
      const parent = Math.floor(this.rng() * Math.min(i, callers));
      this.link(parent, i);
    }
    for (let i = 0; i < callers; i++) this.addExtraDeps(i);
    for (const s of this.svcs) this.place(s);

    const regions = this.regionNames.map((r, i) => this.regionResource(r, i));
    const services: Resource[] = [];
    const endpoints: Resource[] = [];
    const attached: Resource[] = [];
    for (const s of this.svcs) {
      services.push(this.serviceResource(s));
      for (const r of s.regions) endpoints.push(this.initialEndpoints(s, r));
      attached.push(...this.attachedResources(s));
    }
    // Members in canonical order, as the hub holds what it reads back from its store (and as its
    // REST writes put them): the model's scoper then hashes them the way the hub's does.
    this.initial = [...regions, ...services, ...endpoints, ...attached].map(canonicalOrder);
    for (const r of this.initial) this.remember(r);
  }

  current(): ReadonlyMap<string, Resource> {
    return this.state;
  }

  nextChange(): Change {
    const kind = CHANGE_KINDS[this.mix.sample(this.rng())]!;
    switch (kind) {
      case 'endpointFlap':
        return { kind, writes: [this.flap()] };
      case 'scale':
        return { kind, writes: [this.scale()] };
      case 'restart':
        return { kind, writes: [this.restart()] };
      case 'rollout':
        return this.routes.length ? { kind, writes: [this.rollout()] } : this.fallback(kind);
      case 'newService':
        return { kind, writes: this.addService() };
      case 'policyEdit':
        return this.policies.length ? { kind, writes: [this.editPolicy()] } : this.fallback(kind);
    }
  }

  stats(): WorkloadStats {
    const byKind: Record<string, number> = {};
    let endpoints = 0;
    const perSR: number[] = [];
    for (const r of this.initial) {
      byKind[r.kind] = (byKind[r.kind] ?? 0) + 1;
      if (r.kind === 'ServiceEndpoints') {
        endpoints += r.spec.endpoints.length;
        perSR.push(r.spec.endpoints.length);
      }
    }
    const initialSvcs = this.svcs.slice(0, this.options.services);
    const out = initialSvcs.map((s) => s.deps.length);
    const inn = initialSvcs.filter((s) => s.cls !== 'entry').map((s) => s.callers.length);
    const edges = out.reduce((a, b) => a + b, 0);
    const byClass: ByClass = { entry: 0, middle: 0, leaf: 0 };
    for (const s of initialSvcs) byClass[s.cls]++;
    return {
      services: initialSvcs.length,
      regions: this.regionNames.length,
      resources: this.initial.length,
      byKind,
      endpoints,
      byClass,
      regionsPerService: perSR.length / initialSvcs.length,
      endpointsPerServiceRegion: endpoints / perSR.length,
      endpointsPerServiceRegionP99: quantile(perSR, 0.99),
      dependencyEdges: edges,
      outDegree: {
        mean: edges / out.length,
        p50: quantile(out, 0.5),
        p99: quantile(out, 0.99),
        max: out.reduce((a, b) => Math.max(a, b), 0),
        shareAtMost3: out.filter((d) => d <= 3).length / out.length,
      },
      inDegree: {
        mean: inn.reduce((a, b) => a + b, 0) / Math.max(1, inn.length),
        p50: quantile(inn, 0.5),
        p99: quantile(inn, 0.99),
        max: inn.reduce((a, b) => Math.max(a, b), 0),
      },
    };
  }

  // ---- mesh construction

  private newSvc(index: number, cls: Cls): Svc {
    const o = this.options;
    const nsIndex = Math.floor(index / o.servicesPerNamespace);
    const domain = DOMAINS[(index * 7 + nsIndex) % DOMAINS.length]!;
    const role = ROLES[Math.floor(this.rng() * ROLES.length)]!;
    const proto = pickShare(PROTOCOLS, this.rng());
    const policy = this.rng() < o.policyFraction;
    return {
      index,
      namespace: `team-${nsIndex.toString(36)}`,
      name: `${domain}-${role}-${index.toString(36)}`,
      cls,
      regions: [],
      deps: [],
      callers: [],
      port: proto.port,
      protocol: proto.protocol,
      policy,
      route: policy && this.rng() < o.routeFraction,
      authz: this.rng() < o.authzFraction,
      exportGeo: undefined,
    };
  }

  private link(caller: number, callee: number): boolean {
    const c = this.svcs[caller]!;
    if (caller >= callee || c.deps.includes(callee)) return false;
    c.deps.push(callee);
    this.svcs[callee]!.callers.push(caller);
    return true;
  }

  private addExtraDeps(caller: number): void {
    const k = this.extraDeps.sample(this.rng());
    for (let j = 0; j < k; j++) {
      // A popular callee that sits before the caller would close a cycle: draw again (bounded).
      for (let attempt = 0; attempt < 8; attempt++) {
        const callee = this.calleeOrder[this.callees.sample(this.rng())]!;
        if (this.link(caller, callee)) break;
      }
    }
  }

  private place(s: Svc): void {
    const o = this.options;
    const want = Math.min(o.regions, 1 + Math.floor(this.rng() * o.maxRegionsPerService));
    const chosen = new Set<string>();
    const parent = s.callers[0] === undefined ? undefined : this.svcs[s.callers[0]];
    if (parent?.regions.length && this.rng() < o.affinity) {
      chosen.add(parent.regions[Math.floor(this.rng() * parent.regions.length)]!);
    }
    while (chosen.size < want) chosen.add(this.regionNames[Math.floor(this.rng() * o.regions)]!);
    s.regions = [...chosen];
    if (this.rng() < o.exportFraction) s.exportGeo = regionGeo(this.regionIndex.get(s.regions[0]!)!);
  }

  private regionResource(name: string, i: number): ResourceOf<'Region'> {
    const link = LINKS[i % LINKS.length]!;
    return {
      apiVersion: API_VERSION,
      kind: 'Region',
      metadata: { name },
      spec: {
        labels: { cloud: CLOUDS[i % CLOUDS.length]!, geo: regionGeo(i) },
        link: { ...link },
        uplink: { budget: '64KiB/s' },
        gateway: { address: `172.${16 + (i >> 8)}.${i & 255}.10`, port: 15443 },
      },
    };
  }

  private serviceResource(s: Svc): ResourceOf<'Service'> {
    const spec: ResourceOf<'Service'>['spec'] = {
      ports: [{ name: s.protocol, port: s.port, protocol: s.protocol }],
    };
    if (s.exportGeo) spec.exportTo = [`geo=${s.exportGeo}`, ...s.regions];
    if (s.deps.length) spec.dependsOn = s.deps.map((d) => this.ref(d, s.namespace));
    return this.namespaced('Service', s, s.name, spec);
  }

  /** `name` in the same namespace, `ns/name` across: what a user would write. */
  private ref(target: number, fromNamespace: string): string {
    const t = this.svcs[target]!;
    return t.namespace === fromNamespace ? t.name : `${t.namespace}/${t.name}`;
  }

  private initialEndpoints(s: Svc, region: string): ResourceOf<'ServiceEndpoints'> {
    const o = this.options;
    const mean = o.instancesMean[s.cls];
    const mu = Math.log(mean) - (o.instancesSigma * o.instancesSigma) / 2;
    const total = Math.min(
      o.maxInstances,
      Math.max(1, Math.round(Math.exp(mu + o.instancesSigma * gauss(this.rng)))),
    );
    const pos = s.regions.indexOf(region);
    const count = Math.max(
      1,
      Math.floor(total / s.regions.length) + (pos < total % s.regions.length ? 1 : 0),
    );
    const endpoints = Array.from({ length: count }, (_, k) => {
      const e = this.endpoint(s, region, k);
      return this.rng() < o.unhealthyFraction ? { ...e, healthy: false } : e;
    });
    return this.namespaced('ServiceEndpoints', s, `${s.name}-${region}`, {
      service: s.name,
      region,
      endpoints,
    });
  }

  private endpoint(
    s: Svc,
    region: string,
    k: number,
  ): ResourceOf<'ServiceEndpoints'>['spec']['endpoints'][number] {
    // Services with subsets run a canary: about one instance in five is v2.
    const version = s.policy && this.rng() < 0.2 ? 'v2' : 'v1';
    return {
      address: this.nextAddress(region),
      port: s.port,
      zone: `${region}-${'abc'[k % 3]}`,
      labels: { version },
    };
  }

  private nextAddress(region: string): string {
    const r = this.regionIndex.get(region)!;
    const c = ++this.addrCounter[r]!;
    // Unique within a region, which is all ServiceEndpoints needs: 10.<region>.x.y for the first
    // 65,535, then IPv6 so a long churn run never reuses an address.
    if (c < 65_536) return `10.${r & 255}.${c >> 8}.${c & 255}`;
    return `fd00:${r.toString(16)}::${c.toString(16)}`;
  }

  private attachedResources(s: Svc): Resource[] {
    const out: Resource[] = [];
    if (s.policy) {
      const lb = LOAD_BALANCERS[Math.floor(this.rng() * LOAD_BALANCERS.length)]!;
      out.push(
        this.namespaced('TrafficPolicy', s, s.name, {
          service: s.name,
          subsets: [
            { name: 'v1', labels: { version: 'v1' } },
            { name: 'v2', labels: { version: 'v2' } },
          ],
          loadBalancer: lb,
          circuitBreaker: { maxConnections: 1000, maxPendingRequests: 100 },
          outlierDetection: {
            consecutive5xx: 5,
            interval: '10s',
            baseEjectionTime: '30s',
            maxEjectionPercent: 50,
          },
        }),
      );
    }
    if (s.route) {
      const v2 = 10 * Math.floor(this.rng() * 5);
      const rules: ResourceOf<'TrafficRoute'>['spec']['rules'] = [];
      if (s.protocol === 'http' && this.rng() < 0.5) {
        rules.push({
          name: 'canary-header',
          matches: [{ headers: [{ name: 'x-canary', exact: 'true' }] }],
          backends: [{ subset: 'v2', weight: 100 }],
        });
      }
      rules.push({
        name: 'split',
        backends: [
          { subset: 'v1', weight: 100 - v2 },
          { subset: 'v2', weight: v2 },
        ],
        timeout: '2s',
        retries: { attempts: 2, perTryTimeout: '500ms', retryOn: ['unavailable', 'reset'] },
      });
      out.push(
        this.namespaced('TrafficRoute', s, s.name, { service: s.name, rules, failover: [...s.regions] }),
      );
    }
    if (s.authz) {
      const callers = s.callers.map((c) => this.ref(c, s.namespace));
      const from =
        callers.length === 0
          ? ['*']
          : callers.length > 8
            ? [`${s.namespace}/*`, ...callers.slice(0, 7)]
            : callers;
      out.push(
        this.namespaced('AuthorizationPolicy', s, s.name, {
          service: s.name,
          action: 'allow',
          rules: [
            { from, ...(s.protocol === 'http' ? { methods: ['GET', 'POST'], paths: ['/api/*'] } : {}) },
          ],
        }),
      );
    }
    return out;
  }

  private namespaced<K extends Exclude<Resource['kind'], 'Region'>>(
    kind: K,
    s: Svc,
    name: string,
    spec: ResourceOf<K>['spec'],
  ): ResourceOf<K> {
    return {
      apiVersion: API_VERSION,
      kind,
      metadata: { name, namespace: s.namespace },
      spec,
    } as ResourceOf<K>;
  }

  private remember(r: Resource): void {
    const key = keyOf(r);
    const isNew = !this.state.has(key);
    this.state.set(key, r);
    if (!isNew) return;
    if (r.kind === 'ServiceEndpoints') {
      const svc = this.svcIndex.get(`${r.metadata.namespace}/${r.spec.service}`)!;
      this.slots.push({ key, svc, region: r.spec.region });
      this.byInstances.push(r.spec.endpoints.length);
    } else if (r.kind === 'TrafficRoute') {
      this.routes.push(key);
    } else if (r.kind === 'TrafficPolicy' || r.kind === 'AuthorizationPolicy') {
      this.policies.push(key);
    }
  }

  private _svcIndex: Map<string, number> | undefined;
  private get svcIndex(): Map<string, number> {
    this._svcIndex ??= new Map(this.svcs.map((s) => [`${s.namespace}/${s.name}`, s.index]));
    return this._svcIndex;
  }

  // ---- churn

  /** A mix entry with nothing to act on (no routes yet) falls back to the commonest change. */
  private fallback(_kind: ChangeKind): Change {
    return { kind: 'endpointFlap', writes: [this.flap()] };
  }

  private pickEndpointsByInstances(): [number, ResourceOf<'ServiceEndpoints'>] {
    const slot = this.byInstances.pick(this.rng());
    return [slot, this.state.get(this.slots[slot]!.key) as ResourceOf<'ServiceEndpoints'>];
  }

  private flap(): Write {
    const [, r] = this.pickEndpointsByInstances();
    const eps = r.spec.endpoints;
    const i = Math.floor(this.rng() * eps.length);
    const e = eps[i]!;
    const next = e.healthy === false ? withoutHealthy(e) : { ...e, healthy: false };
    return this.put(withEndpoints(r, replaceAt(eps, i, next)));
  }

  private restart(): Write {
    const [, r] = this.pickEndpointsByInstances();
    const eps = r.spec.endpoints;
    const i = Math.floor(this.rng() * eps.length);
    return this.put(
      withEndpoints(r, replaceAt(eps, i, { ...eps[i]!, address: this.nextAddress(r.spec.region) })),
    );
  }

  private scale(): Write {
    // A scaling decision belongs to a deployment, not to an instance: every (service, region) alike.
    const slot = Math.floor(this.rng() * this.slots.length);
    const { key, svc } = this.slots[slot]!;
    const r = this.state.get(key) as ResourceOf<'ServiceEndpoints'>;
    const eps = r.spec.endpoints;
    const step = Math.max(1, Math.round(eps.length * (0.05 + 0.2 * this.rng())));
    let next: typeof eps;
    if (eps.length > 1 && this.rng() < 0.5) {
      next = eps.slice(0, Math.max(1, eps.length - step));
    } else {
      const s = this.svcs[svc]!;
      const added = Array.from({ length: step }, (_, k) => this.endpoint(s, r.spec.region, eps.length + k));
      next = [...eps, ...added];
    }
    this.byInstances.set(slot, next.length);
    return this.put(withEndpoints(r, next));
  }

  private rollout(): Write {
    const key = this.routes[Math.floor(this.rng() * this.routes.length)]!;
    const r = this.state.get(key) as ResourceOf<'TrafficRoute'>;
    const rules = r.spec.rules.map((rule) => {
      if (rule.name !== 'split') return rule;
      const v2 = rule.backends.find((b) => b.subset === 'v2')?.weight ?? 0;
      // A finished rollout (all on v2) starts the next one from v1.
      const w = v2 >= 100 ? 0 : v2 + 10;
      return {
        ...rule,
        backends: [
          { subset: 'v1', weight: 100 - w },
          { subset: 'v2', weight: w },
        ],
      };
    });
    return this.put({ ...r, spec: { ...r.spec, rules } });
  }

  private editPolicy(): Write {
    const key = this.policies[Math.floor(this.rng() * this.policies.length)]!;
    const r = this.state.get(key)!;
    if (r.kind === 'TrafficPolicy') {
      const cb = r.spec.circuitBreaker ?? {};
      const maxConnections = Math.max(100, (cb.maxConnections ?? 1000) + (this.rng() < 0.5 ? -100 : 100));
      return this.put({ ...r, spec: { ...r.spec, circuitBreaker: { ...cb, maxConnections } } });
    }
    if (r.kind === 'AuthorizationPolicy') {
      const [rule, ...rest] = r.spec.rules;
      const paths = rule?.paths ?? [];
      const extra = `/v${1 + Math.floor(this.rng() * 9)}/*`;
      const nextPaths = paths.includes(extra) ? paths.filter((p) => p !== extra) : [...paths, extra];
      const next = { ...(rule ?? { from: ['*'] }), paths: nextPaths };
      if (nextPaths.length === 0) delete (next as { paths?: string[] }).paths;
      return this.put({ ...r, spec: { ...r.spec, rules: [next, ...rest] } });
    }
    throw new Error(`workload: ${key} is not a policy`);
  }

  private addService(): Write[] {
    const index = this.svcs.length;
    const cls = (['entry', 'middle', 'leaf'] as const)[this.classes.sample(this.rng())]!;
    const s = this.newSvc(index, cls);
    this.svcs.push(s);
    this.svcIndex.set(`${s.namespace}/${s.name}`, index);
    const writes: Write[] = [];
    if (cls !== 'leaf') {
      // New services call popular existing ones; at least one, since they are not leaves.
      const k = Math.max(1, this.extraDeps.sample(this.rng()));
      for (let j = 0; j < k; j++) {
        const callee = this.calleeOrder[this.callees.sample(this.rng())]!;
        if (!s.deps.includes(callee)) {
          s.deps.push(callee);
          this.svcs[callee]!.callers.push(index);
        }
      }
    }
    let caller: Svc | undefined;
    if (cls !== 'entry') {
      // Someone calls it: an existing entry or middle service gains the dependency.
      const callers = this.svcs.filter((x) => x.cls !== 'leaf' && x.index !== index);
      caller = callers[Math.floor(this.rng() * callers.length)];
      if (caller) {
        caller.deps.push(index);
        s.callers.push(caller.index);
      }
    }
    this.place(s);
    writes.push(this.put(this.serviceResource(s)));
    for (const r of s.regions) writes.push(this.put(this.initialEndpoints(s, r)));
    for (const r of this.attachedResources(s)) writes.push(this.put(r));
    if (caller) writes.push(this.put(this.serviceResource(caller)));
    return writes;
  }

  private put(given: Resource): Write {
    const r = canonicalOrder(given);
    this.remember(r);
    return { key: keyOf(r), resource: r };
  }
}

// ---- helpers ------------------------------------------------------------------------------------

export function keyOf(r: Resource): string {
  return viewKey(r.kind, r.kind === 'Region' ? '_' : r.metadata.namespace!, r.metadata.name);
}

function regionName(i: number): string {
  return `${CLOUDS[i % CLOUDS.length]}-${regionGeo(i)}-${String(i).padStart(2, '0')}`;
}

function regionGeo(i: number): string {
  return GEOS[Math.floor(i / CLOUDS.length) % GEOS.length]!;
}

function pickShare<T extends { share: number }>(items: readonly T[], u: number): T {
  let acc = 0;
  for (const it of items) {
    acc += it.share;
    if (u < acc) return it;
  }
  return items[items.length - 1]!;
}

function shuffle<T>(xs: T[], rng: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** Standard normal by Box–Muller (one value per call; the second is not worth keeping here). */
function gauss(rng: () => number): number {
  const u = 1 - rng();
  const v = rng();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function replaceAt<T>(xs: readonly T[], i: number, x: T): T[] {
  const out = xs.slice();
  out[i] = x;
  return out;
}

function withEndpoints(
  r: ResourceOf<'ServiceEndpoints'>,
  endpoints: ResourceOf<'ServiceEndpoints'>['spec']['endpoints'],
): ResourceOf<'ServiceEndpoints'> {
  return { ...r, spec: { ...r.spec, endpoints } };
}

function withoutHealthy<T extends { healthy?: boolean }>(e: T): T {
  const { healthy: _, ...rest } = e;
  return rest as T;
}

import { z } from 'zod';
import { API_VERSION, type Kind, Scope } from './kinds.js';
import {
  Address,
  Annotations,
  ByteRate,
  ByteSize,
  DnsLabel,
  Duration,
  exactlyOne,
  isDnsLabel,
  LABEL_KEY_RE,
  LABEL_VALUE_RE,
  Labels,
  NonNegativeInt,
  PortNumber,
  PositiveDuration,
  PositiveInt,
  ShortText,
  uniqueBy,
  Weight,
} from './primitives.js';
import type {
  AuthorizationPolicySpec,
  RegionSpec,
  ServiceEndpointsSpec,
  ServiceSpec,
  SpecByKind,
  TrafficPolicySpec,
  TrafficRouteSpec,
} from './types.js';

// ---- Region -------------------------------------------------------------------------------

export const RegionSpecSchema = z.strictObject({
  labels: Labels.optional(),
  link: z.strictObject({ budget: ByteRate, burst: ByteSize.optional() }).optional(),
  uplink: z.strictObject({ budget: ByteRate }).optional(),
  gateway: z.strictObject({ address: Address, port: PortNumber }).optional(),
});

// ---- Service ------------------------------------------------------------------------------

/** Parses `key=value[,key=value]`; undefined when the text is not a well-formed selector. */
export function parseLabelSelector(text: string): Record<string, string> | undefined {
  if (!text.includes('=')) return undefined;
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq < 0) return undefined;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (!LABEL_KEY_RE.test(key) || !LABEL_VALUE_RE.test(value) || key in out) return undefined;
    out[key] = value;
  }
  return out;
}

const ExportTarget = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .refine((s) => s === '*' || isDnsLabel(s) || parseLabelSelector(s) !== undefined, {
    message: "must be '*', a region name or a label selector 'key=value[,key=value]'",
  });

/** `"ns/name"` or `"name"`; undefined when malformed. Shared by dependsOn and identities. */
export function splitServiceRef(text: string): { namespace?: string; name: string } | undefined {
  const parts = text.split('/');
  if (parts.length === 1 && isDnsLabel(parts[0] as string)) return { name: parts[0] as string };
  if (parts.length === 2 && isDnsLabel(parts[0] as string) && isDnsLabel(parts[1] as string)) {
    return { namespace: parts[0] as string, name: parts[1] as string };
  }
  return undefined;
}

const ServiceRefText = z
  .string()
  .max(127, 'must be at most 127 characters')
  .refine((s) => splitServiceRef(s) !== undefined, {
    message: "must be 'name' or 'namespace/name' (DNS-1123 labels)",
  });

export const ServiceSpecSchema = z.strictObject({
  ports: z
    .array(
      z.strictObject({
        name: DnsLabel,
        port: PortNumber,
        protocol: z.enum(['http', 'grpc', 'tcp'], { error: "must be one of 'http', 'grpc', 'tcp'" }),
      }),
    )
    .min(1, 'at least one port is required')
    .superRefine(uniqueBy((p) => p.name, ['name'], 'port name'))
    .superRefine(uniqueBy((p) => p.port, ['port'], 'port number')),
  exportTo: z.array(ExportTarget).optional(),
  dependsOn: z
    .array(ServiceRefText)
    .superRefine(uniqueBy((s) => s, [], 'dependency'))
    .optional(),
});

// ---- ServiceEndpoints ---------------------------------------------------------------------

export const ServiceEndpointsSpecSchema = z.strictObject({
  service: DnsLabel,
  region: DnsLabel,
  endpoints: z
    .array(
      z.strictObject({
        address: Address,
        port: PortNumber,
        weight: Weight.optional(),
        zone: ShortText.optional(),
        healthy: z.boolean().optional(),
        labels: Labels.optional(),
      }),
    )
    .superRefine(uniqueBy((e) => `${e.address}:${e.port}`, [], 'endpoint')),
});

// ---- TrafficRoute -------------------------------------------------------------------------

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern);
    return true;
  } catch {
    return false;
  }
}
// Envoy matches with RE2; JS syntax is close enough to catch typos without a native dependency.
const Regex = z
  .string()
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters')
  .refine(compiles, 'must be a valid regular expression');
const UrlPath = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .refine((s) => s.startsWith('/'), "must start with '/'");
const HttpMethod = z.string().regex(/^[A-Z]{1,20}$/, 'must be an upper-case HTTP method such as GET');
// RFC 9110 token, plus a leading ':' for HTTP/2 pseudo-headers such as :authority.
const HeaderName = z
  .string()
  .max(256, 'must be at most 256 characters')
  .regex(/^:?[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a valid HTTP header name');
const HeaderValue = z.string().max(4096, 'must be at most 4096 characters');

const PathMatchSchema = z
  .strictObject({ prefix: UrlPath.optional(), exact: UrlPath.optional(), regex: Regex.optional() })
  .superRefine(exactlyOne(['prefix', 'exact', 'regex']));

const HeaderMatchSchema = z
  .strictObject({
    name: HeaderName,
    exact: HeaderValue.optional(),
    prefix: HeaderValue.optional(),
    regex: Regex.optional(),
    present: z.boolean().optional(),
  })
  .superRefine(exactlyOne(['exact', 'prefix', 'regex', 'present']));

// Envoy's retry_on conditions (HTTP and gRPC); Istio users may also list status codes.
export const RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;
const RetryOn = z
  .string()
  .refine((s) => (RETRY_ON as readonly string[]).includes(s) || /^[1-5]\d\d$/.test(s), {
    message: `must be an HTTP status code or one of ${RETRY_ON.join(', ')}`,
  });

const BackendSchema = z.strictObject({ subset: DnsLabel.optional(), weight: Weight });

const RouteRuleSchema = z.strictObject({
  name: DnsLabel.optional(),
  matches: z
    .array(
      z.strictObject({
        path: PathMatchSchema.optional(),
        headers: z.array(HeaderMatchSchema).optional(),
        method: HttpMethod.optional(),
      }),
    )
    .optional(),
  backends: z
    .array(BackendSchema)
    .min(1, 'at least one backend is required')
    .superRefine(uniqueBy((b) => b.subset ?? '(whole service)', ['subset'], 'backend'))
    .superRefine((backends, ctx) => {
      if (backends.every((b) => b.weight === 0)) {
        ctx.addIssue({ code: 'custom', message: 'at least one backend must have a weight > 0' });
      }
    }),
  timeout: Duration.optional(),
  retries: z
    .strictObject({
      attempts: NonNegativeInt,
      perTryTimeout: Duration.optional(),
      retryOn: z.array(RetryOn).optional(),
    })
    .optional(),
});

export const TrafficRouteSpecSchema = z.strictObject({
  service: DnsLabel,
  rules: z
    .array(RouteRuleSchema)
    .min(1, 'at least one rule is required')
    .superRefine(uniqueBy((r) => r.name, ['name'], 'rule name')),
  failover: z
    .array(DnsLabel)
    .superRefine(uniqueBy((r) => r, [], 'region'))
    .optional(),
});

// ---- TrafficPolicy ------------------------------------------------------------------------

export const LOAD_BALANCERS = ['round_robin', 'least_request', 'ring_hash', 'random', 'maglev'] as const;

export const TrafficPolicySpecSchema = z.strictObject({
  service: DnsLabel,
  subsets: z
    .array(z.strictObject({ name: DnsLabel, labels: Labels }))
    .superRefine(uniqueBy((s) => s.name, ['name'], 'subset name'))
    .optional(),
  loadBalancer: z.enum(LOAD_BALANCERS, { error: `must be one of ${LOAD_BALANCERS.join(', ')}` }).optional(),
  circuitBreaker: z
    .strictObject({
      maxConnections: PositiveInt.optional(),
      maxPendingRequests: PositiveInt.optional(),
      maxRequests: PositiveInt.optional(),
      maxRetries: PositiveInt.optional(),
    })
    .optional(),
  outlierDetection: z
    .strictObject({
      consecutive5xx: NonNegativeInt.optional(),
      interval: PositiveDuration.optional(),
      baseEjectionTime: PositiveDuration.optional(),
      maxEjectionPercent: z
        .int('must be an integer')
        .min(0, 'must be 0..100')
        .max(100, 'must be 0..100')
        .optional(),
    })
    .optional(),
});

// ---- AuthorizationPolicy ------------------------------------------------------------------

const Identity = z
  .string()
  .max(127, 'must be at most 127 characters')
  .refine((s) => s === '*' || splitServiceRef(s.endsWith('/*') ? s.slice(0, -2) : s) !== undefined, {
    message: "must be '*', 'name', 'namespace/name' or 'namespace/*'",
  });
// Istio-style: exact, or a single '*' at the start or the end.
const AuthzPath = z
  .string()
  .max(1024, 'must be at most 1024 characters')
  .refine((s) => s === '*' || /^(\*?\/[^*]*|\/[^*]*\*)$/.test(s), {
    message: "must be '*' or a path starting with '/', with at most one '*' at its start or end",
  });

export const AuthorizationPolicySpecSchema = z.strictObject({
  service: DnsLabel,
  action: z.enum(['allow', 'deny'], { error: "must be 'allow' or 'deny'" }),
  rules: z.array(
    z.strictObject({
      from: z.array(Identity).min(1, 'at least one caller is required'),
      methods: z.array(HttpMethod).optional(),
      paths: z.array(AuthzPath).optional(),
    }),
  ),
});

// ---- Manifests ----------------------------------------------------------------------------

export const SPEC_SCHEMAS = {
  Region: RegionSpecSchema,
  Service: ServiceSpecSchema,
  ServiceEndpoints: ServiceEndpointsSpecSchema,
  TrafficRoute: TrafficRouteSpecSchema,
  TrafficPolicy: TrafficPolicySpecSchema,
  AuthorizationPolicy: AuthorizationPolicySpecSchema,
} as const satisfies { [K in Kind]: z.ZodType<SpecByKind[K]> };

/** The metadata accepted on input. Namespace requirements are checked after defaulting. */
export function metadataSchema(scope: Scope) {
  return z.strictObject({
    name: DnsLabel,
    namespace: (scope === Scope.Cluster
      ? z.literal('_', { error: "cluster-scoped: namespace must be absent or '_'" })
      : DnsLabel
    ).optional(),
    labels: Labels.optional(),
    annotations: Annotations.optional(),
  });
}

export function manifestSchema<K extends Kind>(kind: K, scope: Scope) {
  return z.strictObject({
    apiVersion: z.literal(API_VERSION, { error: `must be "${API_VERSION}"` }),
    kind: z.literal(kind),
    metadata: metadataSchema(scope),
    spec: SPEC_SCHEMAS[kind],
  });
}

// Compile-time proof that the schemas produce exactly the types in types.ts (both directions).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function sameShape<_T extends true>(): void {}
sameShape<Same<z.output<typeof RegionSpecSchema>, RegionSpec>>();
sameShape<Same<z.output<typeof ServiceSpecSchema>, ServiceSpec>>();
sameShape<Same<z.output<typeof ServiceEndpointsSpecSchema>, ServiceEndpointsSpec>>();
sameShape<Same<z.output<typeof TrafficRouteSpecSchema>, TrafficRouteSpec>>();
sameShape<Same<z.output<typeof TrafficPolicySpecSchema>, TrafficPolicySpec>>();
sameShape<Same<z.output<typeof AuthorizationPolicySpecSchema>, AuthorizationPolicySpec>>();

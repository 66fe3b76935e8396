import type { HeaderMatch, ResourceOf, RouteMatch } from '@fedmesh/shared';
import type { EnvoyResource } from '../types.js';
import { protoDuration, u32 } from './envoy.js';
import type { ServiceModel } from './mesh.js';
import { clusterName } from './names.js';

type RouteRule = ResourceOf<'TrafficRoute'>['spec']['rules'][number];

/**
 * Istio's default: retry what certainly did not reach the application, plus 503. Used when a
 * rule asks for retries without saying on what.
 */
const DEFAULT_RETRY_ON = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', '503'];

/**
 * The virtual host of one service. Domains are the service host with and without its ports;
 * no `*`: a client that reaches this route configuration under another authority is
 * misconfigured and should fail loudly instead of being routed by a guess.
 *
 * TrafficRoute rules become routes in order (a rule with several matches becomes one route per
 * match, since Envoy ANDs within a route and the model ORs across matches). Unless the last
 * rule already matches everything, a final route sends the rest to the whole service, so that a
 * TrafficRoute with only, say, a header-based canary rule does not black-hole other requests.
 */
export function buildVirtualHost(svc: ServiceModel, warn: (m: string) => void): EnvoyResource {
  const ports = svc.service.spec.ports
    .filter((p) => p.protocol !== 'tcp')
    .map((p) => `${svc.host}:${p.port}`);
  const routes: EnvoyResource[] = [];
  const rules = svc.route?.spec.rules ?? [];
  let catchAll = false;
  rules.forEach((rule, i) => {
    const action = routeAction(svc, rule, warn);
    const matches = rule.matches && rule.matches.length > 0 ? rule.matches : [{}];
    const base = rule.name ?? `rule-${i}`;
    matches.forEach((m, j) => {
      routes.push({ name: matches.length > 1 ? `${base}-${j}` : base, match: routeMatch(m), route: action });
    });
    // Anything after a match-all rule is unreachable, the fallback included.
    catchAll ||= matches.some(isCatchAll);
  });
  if (!catchAll) {
    routes.push({ name: 'default', match: { prefix: '/' }, route: { cluster: clusterName(svc.host) } });
  }
  return { name: svc.host, domains: [svc.host, ...ports], routes };
}

function isCatchAll(m: RouteMatch): boolean {
  return (m.path === undefined || m.path.prefix === '/') && !m.headers?.length && m.method === undefined;
}

function routeMatch(m: RouteMatch): EnvoyResource {
  const out: EnvoyResource = {};
  if (m.path?.exact !== undefined) out.path = m.path.exact;
  else if (m.path?.regex !== undefined) out.safe_regex = { regex: m.path.regex };
  else out.prefix = m.path?.prefix ?? '/';
  const headers = (m.headers ?? []).map(headerMatch);
  if (m.method !== undefined) headers.push({ name: ':method', exact_match: m.method });
  if (headers.length > 0) out.headers = headers;
  return out;
}

/**
 * Header matchers go in the fields from before gRFC A63 (`exact_match`, `prefix_match`,
 * `safe_regex_match`, `present_match`), never in `string_match`, although Envoy marks the former
 * deprecated: gRPC C-core before 1.56 knows only these and NACKs a route configuration with any
 * other ("Invalid route header matcher specified."), keeping its previous routes, so a header
 * canary would silently never happen on it. Envoy and grpc-js-xds read both forms (Envoy counts
 * the deprecated ones in `runtime.deprecated_feature_use`; see docs/xds.md). A match that only
 * `string_match` can say (`contains`, `ignore_case`) would need C-core 1.56 or newer, and
 * `contains_match` is no way round that: grpc-js-xds NACKs it.
 */
function headerMatch(h: HeaderMatch): EnvoyResource {
  if (h.exact !== undefined) return { name: h.name, exact_match: h.exact };
  // Envoy refuses an empty prefix; it matches every value, which is to say the header is there.
  if (h.prefix === '') return { name: h.name, present_match: true };
  if (h.prefix !== undefined) return { name: h.name, prefix_match: h.prefix };
  if (h.regex !== undefined) return { name: h.name, safe_regex_match: { regex: h.regex } };
  // "Absent" is presence inverted, not `present_match: false`: grpc-js-xds (and some older
  // C-core releases) ignores the value of present_match and matches whenever the header is
  // there, so `false` would route exactly the wrong requests. Every client inverts alike.
  if (h.present === false) return { name: h.name, present_match: true, invert_match: true };
  return { name: h.name, present_match: true };
}

function routeAction(svc: ServiceModel, rule: RouteRule, warn: (m: string) => void): EnvoyResource {
  const subsets = new Set((svc.policy?.spec.subsets ?? []).map((s) => s.name));
  const backends = rule.backends.filter((b) => {
    if (b.subset === undefined || subsets.has(b.subset)) return true;
    warn(
      `${svc.host}: route ${rule.name ?? '(unnamed)'} names subset ${b.subset}, which no TrafficPolicy defines; backend left out`,
    );
    return false;
  });
  const out: EnvoyResource = {};
  // Zero weights are kept: the client stays subscribed to the cluster, so shifting traffic
  // back to it needs no new connections first.
  if (backends.length === 1 || !backends.some((b) => b.weight > 0)) {
    out.cluster = clusterName(svc.host, backends.length === 1 ? backends[0]!.subset : undefined);
  } else {
    out.weighted_clusters = {
      clusters: backends.map((b) => ({ name: clusterName(svc.host, b.subset), weight: u32(b.weight) })),
    };
  }
  if (rule.timeout !== undefined) {
    const timeout = protoDuration(rule.timeout);
    out.timeout = timeout; // Envoy
    out.max_stream_duration = { max_stream_duration: timeout }; // gRPC reads only this (gRFC A31)
  }
  const retries = rule.retries;
  if (retries && retries.attempts > 0) {
    const on = retries.retryOn && retries.retryOn.length > 0 ? retries.retryOn : DEFAULT_RETRY_ON;
    const codes = on.filter((c) => /^\d{3}$/.test(c)).map(Number);
    const conditions = on.filter((c) => !/^\d{3}$/.test(c));
    if (codes.length > 0 && !conditions.includes('retriable-status-codes'))
      conditions.push('retriable-status-codes');
    const policy: EnvoyResource = { retry_on: conditions.join(','), num_retries: u32(retries.attempts) };
    if (codes.length > 0) policy.retriable_status_codes = codes;
    if (retries.perTryTimeout !== undefined) policy.per_try_timeout = protoDuration(retries.perTryTimeout);
    out.retry_policy = policy;
  }
  return out;
}

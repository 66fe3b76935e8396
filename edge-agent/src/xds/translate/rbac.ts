import { parseDependsOn, type ResourceOf } from '@fedmesh/shared';
import type { EnvoyResource } from '../types.js';
import { AnyType } from './envoy.js';

export interface RbacOptions {
  /** SPIFFE trust domain of caller identities. Default `fedmesh.local`. */
  trustDomain?: string;
}

type AuthorizationPolicy = ResourceOf<'AuthorizationPolicy'>;

/**
 * AuthorizationPolicies of one service → Envoy RBAC HTTP filters, deny before allow (the order
 * Istio evaluates them in): a request is refused when any deny rule matches, or when allow
 * policies exist and none of their rules matches.
 *
 * Callers are matched by their mTLS identity, `spiffe://<trust domain>/ns/<ns>/sa/<name>` (the
 * Istio convention, the service name standing in for the account), so these filters only mean
 * something on an inbound listener with mTLS. They are built but not attached yet: proxyless gRPC
 * runs RBAC only in xDS-enabled servers (GRPC_XDS_EXPERIMENTAL_RBAC) and inbound listeners need
 * per-node resources; see the api_listener builder.
 */
export function authorizationToRbac(
  policies: readonly AuthorizationPolicy[],
  options: RbacOptions = {},
): EnvoyResource[] {
  const trustDomain = options.trustDomain ?? 'fedmesh.local';
  const filters: EnvoyResource[] = [];
  for (const action of ['deny', 'allow'] as const) {
    const selected = policies.filter((p) => p.spec.action === action);
    if (selected.length === 0) continue;
    const rbacPolicies: Record<string, EnvoyResource> = {};
    for (const policy of [...selected].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
      const namespace = policy.metadata.namespace ?? '';
      policy.spec.rules.forEach((rule, i) => {
        rbacPolicies[`${namespace}/${policy.metadata.name}/${i}`] = {
          permissions: [permission(rule)],
          principals: rule.from.map((who) => principal(who, namespace, trustDomain)),
        };
      });
    }
    filters.push({
      name: `envoy.filters.http.rbac.${action}`,
      typed_config: {
        '@type': AnyType.Rbac,
        rules: { action: action === 'allow' ? 'ALLOW' : 'DENY', policies: rbacPolicies },
      },
    });
  }
  return filters;
}

function permission(rule: AuthorizationPolicy['spec']['rules'][number]): EnvoyResource {
  const parts: EnvoyResource[] = [];
  if (rule.methods?.length) {
    parts.push({
      or_rules: {
        rules: rule.methods.map((m) => ({ header: { name: ':method', string_match: { exact: m } } })),
      },
    });
  }
  const paths = rule.paths ?? [];
  if (paths.length > 0 && !paths.includes('*')) {
    parts.push({ or_rules: { rules: paths.map((p) => ({ url_path: { path: pathMatcher(p) } })) } });
  }
  if (parts.length === 0) return { any: true };
  return parts.length === 1 ? parts[0]! : { and_rules: { rules: parts } };
}

function pathMatcher(path: string): EnvoyResource {
  if (path.endsWith('*')) return { prefix: path.slice(0, -1) };
  if (path.startsWith('*')) return { suffix: path.slice(1) };
  return { exact: path };
}

function principal(who: string, ownNamespace: string, trustDomain: string): EnvoyResource {
  if (who === '*') return { any: true };
  if (who.endsWith('/*')) {
    return {
      authenticated: { principal_name: { prefix: `spiffe://${trustDomain}/ns/${who.slice(0, -2)}/sa/` } },
    };
  }
  const ref = parseDependsOn(who, ownNamespace);
  return {
    authenticated: {
      principal_name: { exact: `spiffe://${trustDomain}/ns/${ref.namespace}/sa/${ref.name}` },
    },
  };
}

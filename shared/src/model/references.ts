import type { FieldIssue } from '../errors.js';
import { CLUSTER_NAMESPACE } from '../names.js';
import { splitServiceRef } from './schemas.js';
import type { Resource, ResourceOf, ResourceRef } from './types.js';

export type ResourceLookup = (ref: ResourceRef) => Resource | undefined;

/**
 * Where the TrafficPolicy of a service is looked up. Lookups go by name, so the convention is
 * one policy per service named after it; a route may also sit next to a policy of its own name.
 */
export function trafficPolicyCandidates(
  namespace: string,
  service: string,
  routeName?: string,
): ResourceRef[] {
  const names = routeName && routeName !== service ? [service, routeName] : [service];
  return names.map((name) => ({ kind: 'TrafficPolicy', namespace, name }));
}

function findPolicy(route: ResourceOf<'TrafficRoute'>, ns: string, lookup: ResourceLookup) {
  for (const ref of trafficPolicyCandidates(ns, route.spec.service, route.metadata.name)) {
    const found = lookup(ref);
    if (found?.kind === 'TrafficPolicy' && found.spec.service === route.spec.service) return found;
  }
  return undefined;
}

/**
 * Checks what one resource says about others. Returns issues (empty when all is well) and
 * leaves the decision to the caller: the hub rejects on them, a bulk apply may look up in the
 * batch first. Forward references that are normal in a mesh (dependsOn, exportTo, callers in
 * AuthorizationPolicy) are not checked: the target may simply not exist yet.
 */
export function checkReferences(resource: Resource, lookup: ResourceLookup): FieldIssue[] {
  if (resource.kind === 'Region' || resource.kind === 'Service') return [];
  const issues: FieldIssue[] = [];
  const ns = resource.metadata.namespace ?? CLUSTER_NAMESPACE;
  const service = resource.spec.service;

  if (lookup({ kind: 'Service', namespace: ns, name: service })?.kind !== 'Service') {
    issues.push({ path: 'spec.service', message: `Service ${ns}/${service} does not exist` });
  }

  if (resource.kind === 'ServiceEndpoints') {
    const region = resource.spec.region;
    if (lookup({ kind: 'Region', namespace: CLUSTER_NAMESPACE, name: region })?.kind !== 'Region') {
      issues.push({ path: 'spec.region', message: `Region ${region} does not exist` });
    }
  }

  if (resource.kind === 'TrafficRoute') {
    let policy: ResourceOf<'TrafficPolicy'> | undefined | null = null; // null: not looked up yet
    resource.spec.rules.forEach((rule, i) => {
      rule.backends.forEach((backend, j) => {
        if (backend.subset === undefined) return;
        if (policy === null) policy = findPolicy(resource, ns, lookup);
        const path = `spec.rules.${i}.backends.${j}.subset`;
        if (!policy) {
          issues.push({
            path,
            message: `subset ${backend.subset} needs a TrafficPolicy for service ${service}, none exists`,
          });
        } else if (!policy.spec.subsets?.some((s) => s.name === backend.subset)) {
          const known = policy.spec.subsets?.map((s) => s.name).join(', ') || 'none';
          issues.push({
            path,
            message: `subset ${backend.subset} is not defined by TrafficPolicy ${ns}/${policy.metadata.name} (defined: ${known})`,
          });
        }
      });
    });
    resource.spec.failover?.forEach((region, i) => {
      if (lookup({ kind: 'Region', namespace: CLUSTER_NAMESPACE, name: region })?.kind !== 'Region') {
        issues.push({ path: `spec.failover.${i}`, message: `Region ${region} does not exist` });
      }
    });
  }
  return issues;
}

/**
 * The forward references `checkReferences` lets through, as warnings: a `dependsOn` on a Service
 * that does not exist and an `exportTo` naming a Region that does not exist are legal (the
 * target may come later) but are as often a typo, which would otherwise fail silently: the
 * calls do not resolve, the service reaches no region. The write goes ahead; the caller tells.
 * Label selectors in `exportTo` are not checked: matching no region today is normal.
 */
export function referenceWarnings(resource: Resource, lookup: ResourceLookup): FieldIssue[] {
  if (resource.kind !== 'Service') return [];
  const out: FieldIssue[] = [];
  const ns = resource.metadata.namespace ?? CLUSTER_NAMESPACE;
  resource.spec.dependsOn?.forEach((dep, i) => {
    const parsed = splitServiceRef(dep);
    if (!parsed) return;
    const target = { kind: 'Service', namespace: parsed.namespace ?? ns, name: parsed.name } as const;
    if (lookup(target)?.kind !== 'Service') {
      out.push({
        path: `spec.dependsOn.${i}`,
        message: `Service ${target.namespace}/${target.name} does not exist (yet): calls to it do not resolve until it is created`,
      });
    }
  });
  resource.spec.exportTo?.forEach((target, i) => {
    if (target === '*' || target.includes('=')) return;
    if (lookup({ kind: 'Region', namespace: CLUSTER_NAMESPACE, name: target })?.kind !== 'Region') {
      out.push({
        path: `spec.exportTo.${i}`,
        message: `Region ${target} does not exist (yet): the service reaches no region of that name`,
      });
    }
  });
  return out;
}

import {
  isKnownKind,
  REMOTE_ENDPOINTS_KIND,
  type RegionView,
  type RemoteEndpointsSpec,
  type Resource,
  type ResourceOf,
  validateManifest,
} from '@fedmesh/shared';
import { serviceHost } from './names.js';

/** Everything the translator needs about one Service, gathered from the view. */
export interface ServiceModel {
  namespace: string;
  name: string;
  /** `<name>.<namespace>`: listener, route and cluster names derive from it. */
  host: string;
  service: ResourceOf<'Service'>;
  /** This region's endpoints of the service (from its ServiceEndpoints for this region). */
  endpoints: ResourceOf<'ServiceEndpoints'>['spec']['endpoints'];
  route?: ResourceOf<'TrafficRoute'>;
  policy?: ResourceOf<'TrafficPolicy'>;
  authorization: ResourceOf<'AuthorizationPolicy'>[];
  /** One aggregated gateway entry per other region running the service. */
  remotes: RemoteEndpointsSpec[];
}

export interface MeshIndex {
  region: string;
  /** Sorted by host, so that output order never depends on view key order. */
  services: ServiceModel[];
}

/**
 * Groups the view by service. Every stored manifest is validated again with the shared schemas:
 * the view was verified by hash, but an agent older or newer than the hub may read it, and one
 * bad resource must cost one service its config, not the region all of its config.
 */
export function indexView(view: RegionView, warn: (message: string) => void): MeshIndex {
  const byKind = new Map<string, Resource[]>();
  const remotes: { namespace: string; spec: RemoteEndpointsSpec }[] = [];
  for (const key of Object.keys(view.resources).sort()) {
    const manifest = view.resources[key]!;
    const namespace = key.split('/')[1] ?? '';
    if (manifest.kind === REMOTE_ENDPOINTS_KIND) {
      const spec = remoteSpec(manifest.spec);
      if (spec) remotes.push({ namespace: manifest.metadata.namespace ?? namespace, spec });
      else warn(`${key}: malformed RemoteEndpoints, skipped`);
      continue;
    }
    if (!isKnownKind(manifest.kind)) {
      warn(`${key}: unknown kind ${manifest.kind}, skipped`);
      continue;
    }
    const result = validateManifest(manifest, { defaultNamespace: namespace });
    if (!result.ok) {
      warn(`${key}: invalid, skipped (${result.issues.map((i) => `${i.path}: ${i.message}`).join('; ')})`);
      continue;
    }
    const list = byKind.get(result.resource.kind) ?? [];
    list.push(result.resource);
    byKind.set(result.resource.kind, list);
  }

  const services = new Map<string, ServiceModel>();
  for (const service of kindList(byKind, 'Service')) {
    const namespace = service.metadata.namespace ?? '';
    const host = serviceHost(namespace, service.metadata.name);
    services.set(host, {
      namespace,
      name: service.metadata.name,
      host,
      service,
      endpoints: [],
      authorization: [],
      remotes: [],
    });
  }
  const target = (namespace: string | undefined, service: string, what: string): ServiceModel | undefined => {
    const model = services.get(serviceHost(namespace ?? '', service));
    if (!model) warn(`${what} refers to Service ${namespace}/${service}, which is not in the view; skipped`);
    return model;
  };

  for (const eps of kindList(byKind, 'ServiceEndpoints')) {
    // The hub sends other regions only as RemoteEndpoints; anything else is not ours to serve.
    if (eps.spec.region !== view.region) continue;
    const model = target(eps.metadata.namespace, eps.spec.service, `ServiceEndpoints ${eps.metadata.name}`);
    model?.endpoints.push(...eps.spec.endpoints);
  }
  for (const route of kindList(byKind, 'TrafficRoute')) {
    const model = target(route.metadata.namespace, route.spec.service, `TrafficRoute ${route.metadata.name}`);
    if (!model) continue;
    if (model.route) {
      warn(
        `TrafficRoute ${route.metadata.name}: ${model.host} already routed by ${model.route.metadata.name}; ignored`,
      );
    } else model.route = route;
  }
  for (const policy of kindList(byKind, 'TrafficPolicy')) {
    const model = target(
      policy.metadata.namespace,
      policy.spec.service,
      `TrafficPolicy ${policy.metadata.name}`,
    );
    if (!model) continue;
    if (model.policy) {
      warn(
        `TrafficPolicy ${policy.metadata.name}: ${model.host} already has ${model.policy.metadata.name}; ignored`,
      );
    } else model.policy = policy;
  }
  for (const authz of kindList(byKind, 'AuthorizationPolicy')) {
    target(
      authz.metadata.namespace,
      authz.spec.service,
      `AuthorizationPolicy ${authz.metadata.name}`,
    )?.authorization.push(authz);
  }
  for (const { namespace, spec } of remotes) {
    if (spec.region === view.region) continue;
    target(namespace, spec.service, `RemoteEndpoints ${spec.service}.${spec.region}`)?.remotes.push(spec);
  }

  return { region: view.region, services: [...services.values()].sort((a, b) => cmp(a.host, b.host)) };
}

function kindList<K extends Resource['kind']>(byKind: Map<string, Resource[]>, kind: K): ResourceOf<K>[] {
  return (byKind.get(kind) ?? []) as ResourceOf<K>[];
}

function remoteSpec(spec: unknown): RemoteEndpointsSpec | undefined {
  const s = spec as Partial<RemoteEndpointsSpec> | null;
  if (
    s &&
    typeof s.service === 'string' &&
    typeof s.region === 'string' &&
    typeof s.gateway?.address === 'string' &&
    Number.isInteger(s.gateway.port) &&
    Number.isInteger(s.healthy)
  ) {
    return {
      service: s.service,
      region: s.region,
      gateway: { address: s.gateway.address, port: s.gateway.port },
      healthy: s.healthy!,
    };
  }
  return undefined;
}

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

import type { RegionView } from '@fedmesh/shared';
import { type NamedResource, TypeUrl, type XdsResources } from '../types.js';
import { buildClusters } from './clusters.js';
import { buildLoadAssignments } from './endpoints.js';
import { apiListeners, type ListenerBuilder, type ListenerContext } from './listeners.js';
import { indexView, type ServiceModel } from './mesh.js';
import { buildVirtualHost } from './routes.js';

export { apiListeners, type ListenerBuilder, type ListenerContext } from './listeners.js';
export type { MeshIndex, ServiceModel } from './mesh.js';
export { apiListenerName, clusterName, routeConfigName, serviceHost } from './names.js';
export { authorizationToRbac, type RbacOptions } from './rbac.js';

export interface TranslateOptions {
  /** Default: the proxyless gRPC api_listeners only. */
  listenerBuilders?: readonly ListenerBuilder[];
}

/**
 * Region view → Envoy v3 resources. Pure: same view, same output (sorted, so that resource
 * hashes and therefore pushes depend only on content). Never throws on view content; what it
 * cannot translate it leaves out and reports in `warnings`.
 */
export function translateView(view: RegionView, options: TranslateOptions = {}): XdsResources {
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
  };
  const mesh = indexView(view, warn);

  const clusters: NamedResource[] = [];
  const endpoints: NamedResource[] = [];
  for (const svc of mesh.services) {
    clusters.push(...buildClusters(svc));
    endpoints.push(...buildLoadAssignments(svc, mesh.region, warn));
  }

  const virtualHosts = new Map<ServiceModel, Record<string, unknown>>();
  const ctx: ListenerContext = {
    mesh,
    warn,
    virtualHost(svc) {
      let vhost = virtualHosts.get(svc);
      if (!vhost) {
        vhost = buildVirtualHost(svc, warn);
        virtualHosts.set(svc, vhost);
      }
      return vhost;
    },
  };
  const listeners: NamedResource[] = [];
  const routes: NamedResource[] = [];
  for (const builder of options.listenerBuilders ?? [apiListeners]) {
    const built = builder.build(ctx);
    listeners.push(...built.listeners);
    routes.push(...built.routeConfigurations);
  }

  return {
    resources: {
      [TypeUrl.Listener]: byName(listeners),
      [TypeUrl.RouteConfiguration]: byName(routes),
      [TypeUrl.Cluster]: byName(clusters),
      [TypeUrl.ClusterLoadAssignment]: byName(endpoints),
    },
    warnings: [...new Set(warnings)],
  };
}

function byName(list: NamedResource[]): NamedResource[] {
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

import type { NamedResource } from '../types.js';
import { ADS_CONFIG_SOURCE, AnyType } from './envoy.js';
import type { MeshIndex, ServiceModel } from './mesh.js';
import { apiListenerName, routeConfigName } from './names.js';

/** What listener builders share: the mesh, one memoized virtual host per service, a warning sink. */
export interface ListenerContext {
  mesh: MeshIndex;
  virtualHost(svc: ServiceModel): Record<string, unknown>;
  warn(message: string): void;
}

/**
 * A family of listeners and the route configurations only they use. The proxyless gRPC
 * api_listeners are one builder; Envoy sidecar outbound listeners (one per service port, a
 * route configuration per port holding the virtual hosts of every service on it) will be
 * another, reusing `virtualHost` and the same clusters.
 */
export interface ListenerBuilder {
  readonly name: string;
  build(ctx: ListenerContext): { listeners: NamedResource[]; routeConfigurations: NamedResource[] };
}

/**
 * For every service with an HTTP or gRPC port: a Listener named after the service host whose
 * api_listener is an HttpConnectionManager with RDS over ADS and the router filter, and the
 * RouteConfiguration it names. This is what `xds:///payments.shop` resolves.
 *
 * No RBAC filter here: gRPC implements RBAC only on the server side (xDS-enabled servers, behind
 * GRPC_XDS_EXPERIMENTAL_RBAC), and a client-side listener is the caller's, not the callee's.
 */
export const apiListeners: ListenerBuilder = {
  name: 'grpc-api-listeners',
  build(ctx) {
    const listeners: NamedResource[] = [];
    const routeConfigurations: NamedResource[] = [];
    for (const svc of ctx.mesh.services) {
      if (!svc.service.spec.ports.some((p) => p.protocol !== 'tcp')) continue;
      const routeName = routeConfigName(svc.host);
      const name = apiListenerName(svc.host);
      listeners.push({
        name,
        resource: {
          name,
          api_listener: {
            api_listener: {
              '@type': AnyType.HttpConnectionManager,
              stat_prefix: svc.host,
              rds: { route_config_name: routeName, config_source: ADS_CONFIG_SOURCE },
              http_filters: [
                { name: 'envoy.filters.http.router', typed_config: { '@type': AnyType.Router } },
              ],
            },
          },
        },
      });
      routeConfigurations.push({
        name: routeName,
        resource: { name: routeName, virtual_hosts: [ctx.virtualHost(svc)] },
      });
    }
    return { listeners, routeConfigurations };
  },
};

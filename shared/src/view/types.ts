import { API_VERSION } from '../model/index.js';
import { viewKey } from '../names.js';

/**
 * A region view: the part of the mesh configuration one region needs, at one version.
 * `resources` maps `<kind>/<namespace>/<name>` to a manifest. Besides stored kinds it holds
 * view-only `RemoteEndpoints` entries (see below). The hash is `viewHash(resources)`.
 */
export interface RegionView {
  region: string;
  /** Config revision of the last change that altered this view (0 = empty view). */
  version: number;
  hash: string;
  resources: Record<string, ViewResource>;
}

/** Any manifest inside a view; stored kinds are validated, RemoteEndpoints is built by the hub. */
export interface ViewResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: unknown;
}

/**
 * The aggregated stand-in for a service's endpoints in another region: that region's east-west
 * gateway, weighted by how many healthy endpoints the service has there. Individual remote
 * endpoints never cross a region line, so endpoint churn elsewhere costs nothing here unless a
 * healthy count changes.
 */
export const REMOTE_ENDPOINTS_KIND = 'RemoteEndpoints';
export interface RemoteEndpointsSpec {
  service: string;
  region: string;
  gateway: { address: string; port: number };
  /** Healthy endpoints of the service in that region: the locality's weight. */
  healthy: number;
}
export interface RemoteEndpointsResource extends ViewResource {
  kind: typeof REMOTE_ENDPOINTS_KIND;
  metadata: { name: string; namespace: string };
  spec: RemoteEndpointsSpec;
}

export function remoteEndpointsName(service: string, region: string): string {
  return `${service}.${region}`;
}
export function remoteEndpointsKey(namespace: string, service: string, region: string): string {
  return viewKey(REMOTE_ENDPOINTS_KIND, namespace, remoteEndpointsName(service, region));
}

/** The RemoteEndpoints entry for `service` as seen from other regions: `region`'s gateway, weighted by its healthy count. */
export function remoteEndpoints(
  namespace: string,
  service: string,
  region: string,
  gateway: { address: string; port: number },
  healthy: number,
): RemoteEndpointsResource {
  // Members in canonical order, so that hashing it takes canonicalJson's fast path.
  return {
    apiVersion: API_VERSION,
    kind: REMOTE_ENDPOINTS_KIND,
    metadata: { name: remoteEndpointsName(service, region), namespace },
    spec: { gateway: { address: gateway.address, port: gateway.port }, healthy, region, service },
  };
}

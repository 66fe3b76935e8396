/**
 * Builders for tests (unit tests here and the integration tests under test/xds): a region view
 * assembled the way the hub's scoper assembles one.
 */
import {
  API_VERSION,
  CLUSTER_NAMESPACE,
  REMOTE_ENDPOINTS_KIND,
  type RegionView,
  type RemoteEndpointsResource,
  remoteEndpointsName,
  type ViewResource,
  viewHash,
  viewKey,
} from '@fedmesh/shared';

export function regionView(region: string, version: number, manifests: readonly ViewResource[]): RegionView {
  const resources: Record<string, ViewResource> = {};
  for (const m of manifests) {
    resources[viewKey(m.kind, m.metadata.namespace ?? CLUSTER_NAMESPACE, m.metadata.name)] = m;
  }
  return { region, version, hash: viewHash(resources), resources };
}

export function remoteEndpoints(
  namespace: string,
  service: string,
  region: string,
  gateway: { address: string; port: number },
  healthy: number,
): RemoteEndpointsResource {
  return {
    apiVersion: API_VERSION,
    kind: REMOTE_ENDPOINTS_KIND,
    metadata: { namespace, name: remoteEndpointsName(service, region) },
    spec: { service, region, gateway, healthy },
  };
}

/** A namespaced manifest of any stored kind. */
export function manifest(kind: string, namespace: string, name: string, spec: unknown): ViewResource {
  return { apiVersion: API_VERSION, kind, metadata: { name, namespace }, spec };
}

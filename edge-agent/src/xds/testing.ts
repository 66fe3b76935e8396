/**
 * Builders for tests (unit tests here and the integration tests under test/xds): a region view
 * assembled the way the hub's scoper assembles one.
 */
import {
  API_VERSION,
  CLUSTER_NAMESPACE,
  type RegionView,
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

export { remoteEndpoints } from '@fedmesh/shared';

/** A namespaced manifest of any stored kind. */
export function manifest(kind: string, namespace: string, name: string, spec: unknown): ViewResource {
  return { apiVersion: API_VERSION, kind, metadata: { name, namespace }, spec };
}

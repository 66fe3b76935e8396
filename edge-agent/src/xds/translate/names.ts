/**
 * xDS resource names. For Service `payments` in namespace `shop`:
 *
 * | resource                         | name              |
 * |----------------------------------|-------------------|
 * | Listener (gRPC api_listener)     | `payments.shop`   |  ← what `xds:///payments.shop` resolves
 * | RouteConfiguration               | `payments.shop`   |
 * | Cluster, whole service           | `payments.shop`   |
 * | Cluster, subset `v1`             | `payments.shop|v1`|
 * | ClusterLoadAssignment            | = its cluster name |
 *
 * `<name>.<namespace>` is the service's mesh host name. `|` cannot occur in a DNS label, so a
 * subset cluster can never collide with a whole-service cluster of another service. Names are
 * only unique within a type, which is all xDS requires.
 */
export function serviceHost(namespace: string, name: string): string {
  return `${name}.${namespace}`;
}

export const SUBSET_SEPARATOR = '|';

export function clusterName(host: string, subset?: string): string {
  return subset === undefined ? host : `${host}${SUBSET_SEPARATOR}${subset}`;
}

export function apiListenerName(host: string): string {
  return host;
}

export function routeConfigName(host: string): string {
  return host;
}

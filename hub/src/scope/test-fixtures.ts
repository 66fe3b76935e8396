import { API_VERSION, type Resource } from '@fedmesh/shared';

/** Compact builders for scoping tests. */
export function svc(name: string, dependsOn: readonly string[] = [], exportTo?: readonly string[]): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'Service',
    metadata: { name, namespace: 'shop' },
    spec: {
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      dependsOn,
      ...(exportTo ? { exportTo } : {}),
    },
  } as Resource;
}

export function eps(service: string, region: string, n: number, unhealthy = 0): Resource {
  return {
    apiVersion: API_VERSION,
    kind: 'ServiceEndpoints',
    metadata: { name: `${service}-${region}`, namespace: 'shop' },
    spec: {
      service,
      region,
      endpoints: Array.from({ length: n }, (_, i) => ({
        address: `10.0.${i >> 8}.${i & 255}`,
        port: 8080,
        ...(i < unhealthy ? { healthy: false } : {}),
      })),
    },
  } as Resource;
}

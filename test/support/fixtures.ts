/** Meshes that tests build again and again. */
import { createHash } from 'node:crypto';
import { API_VERSION, type Resource } from '@fedmesh/shared';

/**
 * A Service `catalog` in namespace `shop` with `count` endpoints in `region`, each labelled with a
 * hash so that they compress poorly: its snapshots run to several 1 KiB chunks (200 endpoints: a
 * few; 1,000: about twenty), long enough for a fault to land in the middle of one.
 */
export function poorlyCompressingService(region: string, count: number): Resource[] {
  const meta = (name: string) => ({ name, namespace: 'shop' });
  return [
    {
      apiVersion: API_VERSION,
      kind: 'Service',
      metadata: meta('catalog'),
      spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }] },
    },
    {
      apiVersion: API_VERSION,
      kind: 'ServiceEndpoints',
      metadata: meta(`catalog-${region}`),
      spec: {
        service: 'catalog',
        region,
        endpoints: Array.from({ length: count }, (_, i) => ({
          address: `10.3.${i >> 8}.${i & 255}`,
          port: 8080,
          labels: { pod: createHash('sha256').update(String(i)).digest('hex').slice(0, 24) },
        })),
      },
    },
  ] as Resource[];
}

/**
 * The mesh the xDS end-to-end test and the xDS latency bench put through the hub's REST API:
 * Service `payments` in `shop`, served by local gRPC backends labelled `version: v1|v2`, a
 * TrafficPolicy with subsets v1 and v2, and a TrafficRoute splitting between them.
 */
import { API_VERSION } from '@fedmesh/shared';
import type { hubClient } from '../support/fedmesh.js';
import type { Backend } from '../xds/support.js';

export const REGION = 'eu-west';
export const NS = 'shop';
export const TARGET = 'xds:///payments.shop';

export type Subset = 'v1' | 'v2';
export interface LabelledBackend {
  backend: Backend;
  subset: Subset;
}

type Api = ReturnType<typeof hubClient>;

/** `namespace` '_' is a cluster-scoped kind: the manifest then carries no namespace. */
async function put(api: Api, kind: string, name: string, spec: unknown, namespace = NS): Promise<number> {
  const metadata = namespace === '_' ? { name } : { name, namespace };
  const res = await api.put(kind, namespace, name, { apiVersion: API_VERSION, kind, metadata, spec });
  if (res.status >= 300) {
    throw new Error(`PUT ${kind}/${name} answered ${res.status}: ${JSON.stringify(res.body)}`);
  }
  return Number(res.headers.get('etag')?.replaceAll('"', ''));
}

/** Region, Service, endpoints, policy and an initial route; returns the route's revision. */
export async function putPaymentsMesh(
  api: Api,
  backends: readonly LabelledBackend[],
  weights: readonly [number, number],
): Promise<number> {
  await put(api, 'Region', REGION, { labels: { geo: 'eu' } }, '_');
  await put(api, 'Service', 'payments', { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] });
  await putEndpoints(api, backends);
  await put(api, 'TrafficPolicy', 'payments', {
    service: 'payments',
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' } },
    ],
  });
  return putRoute(api, weights);
}

/** Replaces the region's endpoints of payments with exactly `backends`. */
export function putEndpoints(api: Api, backends: readonly LabelledBackend[]): Promise<number> {
  return put(api, 'ServiceEndpoints', `payments-${REGION}`, {
    service: 'payments',
    region: REGION,
    endpoints: backends.map(({ backend, subset }) => ({
      address: '127.0.0.1',
      port: backend.port,
      zone: `${REGION}-a`,
      labels: { version: subset, backend: backend.name },
    })),
  });
}

/** v1/v2 weights of the one rule; returns the revision the hub stored. */
export function putRoute(api: Api, [v1, v2]: readonly [number, number]): Promise<number> {
  return put(api, 'TrafficRoute', 'payments', {
    service: 'payments',
    rules: [
      {
        backends: [
          { subset: 'v1', weight: v1 },
          { subset: 'v2', weight: v2 },
        ],
        timeout: '2s',
      },
    ],
  });
}

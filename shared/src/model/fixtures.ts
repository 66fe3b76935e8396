import { API_VERSION } from './kinds.js';
import type { Resource, ResourceOf, SpecOf } from './types.js';

/**
 * A small but complete mesh for tests and the demo: three regions, a frontend → checkout →
 * payments chain in namespace `shop`, payments split 80/20 across subsets v1/v2 and guarded
 * by an AuthorizationPolicy. Returns fresh objects on every call, so callers may mutate them.
 */
export const SAMPLE_NAMESPACE = 'shop';

function region(name: string, spec: SpecOf<'Region'>): ResourceOf<'Region'> {
  return { apiVersion: API_VERSION, kind: 'Region', metadata: { name }, spec };
}

function namespaced<K extends Exclude<Resource['kind'], 'Region'>>(kind: K, name: string, spec: SpecOf<K>) {
  return {
    apiVersion: API_VERSION,
    kind,
    metadata: { name, namespace: SAMPLE_NAMESPACE },
    spec,
  } as ResourceOf<K>;
}

export function sampleMesh(): Resource[] {
  return [
    region('eu-west', {
      labels: { cloud: 'aws', geo: 'eu' },
      link: { budget: '256KiB/s', burst: '1MiB' },
      uplink: { budget: '64KiB/s' },
      gateway: { address: '10.1.0.10', port: 15443 },
    }),
    region('us-east', {
      labels: { cloud: 'gcp', geo: 'us' },
      link: { budget: '2Mbit/s', burst: '512KiB' },
      uplink: { budget: '500kbit/s' },
      gateway: { address: 'gw.us-east.example.net', port: 15443 },
    }),
    region('ap-south', {
      labels: { cloud: 'idc', geo: 'ap' },
      link: { budget: '128KiB/s' },
      uplink: { budget: '32KiB/s' },
      gateway: { address: '10.3.0.10', port: 15443 },
    }),
    namespaced('Service', 'frontend', {
      ports: [{ name: 'http', port: 8080, protocol: 'http' }],
      dependsOn: ['checkout'],
    }),
    namespaced('Service', 'checkout', {
      ports: [{ name: 'grpc', port: 9090, protocol: 'grpc' }],
      dependsOn: ['payments'],
    }),
    namespaced('Service', 'payments', {
      ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }],
      exportTo: ['eu-west', 'geo=us'],
    }),
    namespaced('ServiceEndpoints', 'frontend-eu-west', {
      service: 'frontend',
      region: 'eu-west',
      endpoints: [
        { address: '10.1.1.10', port: 8080, zone: 'eu-west-1a' },
        { address: '10.1.1.11', port: 8080, zone: 'eu-west-1b' },
      ],
    }),
    namespaced('ServiceEndpoints', 'checkout-eu-west', {
      service: 'checkout',
      region: 'eu-west',
      endpoints: [{ address: '10.1.2.10', port: 9090, zone: 'eu-west-1a' }],
    }),
    namespaced('ServiceEndpoints', 'payments-eu-west', {
      service: 'payments',
      region: 'eu-west',
      endpoints: [
        { address: '10.1.3.10', port: 9091, zone: 'eu-west-1a', labels: { version: 'v1' } },
        { address: '10.1.3.11', port: 9091, zone: 'eu-west-1b', labels: { version: 'v2' } },
      ],
    }),
    namespaced('ServiceEndpoints', 'payments-us-east', {
      service: 'payments',
      region: 'us-east',
      endpoints: [
        { address: '10.2.3.10', port: 9091, zone: 'us-east1-b', labels: { version: 'v1' } },
        { address: '10.2.3.11', port: 9091, zone: 'us-east1-c', weight: 2, labels: { version: 'v1' } },
        { address: '10.2.3.12', port: 9091, zone: 'us-east1-c', healthy: false, labels: { version: 'v2' } },
      ],
    }),
    namespaced('TrafficPolicy', 'payments', {
      service: 'payments',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
      loadBalancer: 'least_request',
      circuitBreaker: { maxConnections: 1000, maxPendingRequests: 100 },
      outlierDetection: {
        consecutive5xx: 5,
        interval: '10s',
        baseEjectionTime: '30s',
        maxEjectionPercent: 50,
      },
    }),
    namespaced('TrafficRoute', 'payments', {
      service: 'payments',
      rules: [
        {
          name: 'canary',
          backends: [
            { subset: 'v1', weight: 80 },
            { subset: 'v2', weight: 20 },
          ],
          timeout: '2s',
          retries: { attempts: 2, perTryTimeout: '500ms', retryOn: ['unavailable', 'reset'] },
        },
      ],
      failover: ['eu-west', 'us-east'],
    }),
    namespaced('AuthorizationPolicy', 'payments', {
      service: 'payments',
      action: 'allow',
      rules: [{ from: ['shop/checkout'], paths: ['/payments.v1.Payments/*'] }],
    }),
  ];
}

import { describe, expect, it } from 'vitest';
import { type EndpointSliceLike, endpointsFromSlices } from './slices.js';

const slice = (
  over: Partial<EndpointSliceLike> & { name?: string; service?: string },
): EndpointSliceLike => ({
  metadata: {
    name: over.name ?? 'payments-abcde',
    namespace: 'shop',
    labels: { 'kubernetes.io/service-name': over.service ?? 'payments' },
  },
  addressType: 'IPv4',
  ports: [{ name: 'grpc', port: 8443, protocol: 'TCP' }],
  endpoints: [],
  ...over,
});
const pods: Record<string, Record<string, string>> = {
  'shop/a': { app: 'payments', version: 'v1', 'pod-template-hash': '7d9f8c6b5' },
  'shop/b': { 'controller-revision-hash': 'x', 'pod-template-generation': '2' },
};
const labelsOf = (ns: string, name: string) => pods[`${ns}/${name}`];

describe('endpointsFromSlices', () => {
  it('slices - reads health from ready, and a terminating endpoint is unhealthy even while serving', () => {
    const got = endpointsFromSlices(
      [
        slice({
          endpoints: [
            { addresses: ['10.0.0.1'], conditions: { ready: true, serving: true, terminating: false } },
            { addresses: ['10.0.0.2'], conditions: { ready: false, serving: false, terminating: false } },
            { addresses: ['10.0.0.3'], conditions: { ready: false, serving: true, terminating: true } },
            // No conditions: the API says to read unknown as ready.
            { addresses: ['10.0.0.4'] },
            { addresses: ['10.0.0.5'], conditions: { ready: null, terminating: true } },
          ],
        }),
      ],
      labelsOf,
    );
    expect(got.map((e) => [e.address, e.healthy])).toEqual([
      ['10.0.0.1', true],
      ['10.0.0.2', false],
      ['10.0.0.3', false],
      ['10.0.0.4', true],
      ['10.0.0.5', false],
    ]);
  });

  it("slices - takes the zone, or the old topology's zone, and the labels of a known pod less the controllers' hashes", () => {
    const got = endpointsFromSlices(
      [
        slice({
          endpoints: [
            {
              addresses: ['10.0.0.1'],
              zone: 'eu-west-1a',
              targetRef: { kind: 'Pod', name: 'a', namespace: 'shop' },
            },
            {
              addresses: ['10.0.0.2'],
              deprecatedTopology: { 'topology.kubernetes.io/zone': 'eu-west-1b' },
              targetRef: { kind: 'Pod', name: 'b' },
            },
            { addresses: ['10.0.0.3'], targetRef: { kind: 'Pod', name: 'not-yet-known' } },
            { addresses: ['10.0.0.4'], targetRef: { kind: 'Node', name: 'a' } },
          ],
        }),
      ],
      labelsOf,
    );
    expect(got).toEqual([
      {
        namespace: 'shop',
        service: 'payments',
        address: '10.0.0.1',
        port: 8443,
        zone: 'eu-west-1a',
        labels: { app: 'payments', version: 'v1' },
        healthy: true,
      },
      {
        namespace: 'shop',
        service: 'payments',
        address: '10.0.0.2',
        port: 8443,
        zone: 'eu-west-1b',
        healthy: true,
      },
      { namespace: 'shop', service: 'payments', address: '10.0.0.3', port: 8443, healthy: true },
      { namespace: 'shop', service: 'payments', address: '10.0.0.4', port: 8443, healthy: true },
    ]);
  });

  it("slices - merges a Service's slices, keeps an address listed twice once (healthy if either says so), sorted", () => {
    const got = endpointsFromSlices(
      [
        slice({
          name: 'payments-2',
          endpoints: [{ addresses: ['10.0.0.9'], conditions: { ready: false } }, { addresses: ['10.0.0.3'] }],
        }),
        slice({
          name: 'payments-1',
          endpoints: [
            { addresses: ['10.0.0.9'], conditions: { ready: true } },
            { addresses: ['10.0.0.1', '10.0.0.100'] },
          ],
        }),
        slice({ service: 'cart', endpoints: [{ addresses: ['10.0.1.1'] }] }),
      ],
      labelsOf,
    );
    expect(got.map((e) => `${e.service} ${e.address}:${e.port} ${e.healthy}`)).toEqual([
      'cart 10.0.1.1:8443 true',
      'payments 10.0.0.1:8443 true',
      'payments 10.0.0.3:8443 true',
      'payments 10.0.0.9:8443 true',
    ]);
  });

  it("slices - uses the slice's first port, and leaves out FQDN slices, slices of no Service and endpoints without an address", () => {
    const got = endpointsFromSlices(
      [
        slice({
          ports: [
            { name: 'grpc', port: 9091 },
            { name: 'metrics', port: 9100 },
          ],
          endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: [] }],
        }),
        slice({ addressType: 'FQDN', service: 'external', endpoints: [{ addresses: ['db.example.com'] }] }),
        slice({ addressType: 'IPv6', service: 'v6', endpoints: [{ addresses: ['fd00::1'] }] }),
        {
          ...slice({ endpoints: [{ addresses: ['10.0.0.7'] }] }),
          metadata: { name: 'hand-made', namespace: 'shop' },
        },
        slice({
          service: 'no-ports',
          ports: [{ name: 'all', port: null }],
          endpoints: [{ addresses: ['10.0.0.8'] }],
        }),
      ],
      labelsOf,
    );
    expect(got.map((e) => `${e.service} ${e.address}:${e.port}`)).toEqual([
      'payments 10.0.0.1:9091',
      'v6 fd00::1:8443',
    ]);
  });
});

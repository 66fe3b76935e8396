import { sampleMesh } from '@fedmesh/shared';
import { describe, expect, test } from 'vitest';
import { regionView } from '../testing.js';
import { translateView } from '../translate/index.js';
import { PUSH_ORDER, TypeUrl, type XdsResources } from '../types.js';
import { loadXdsProtos } from './protos.js';
import { parseListen } from './server.js';
import { buildSnapshot, checkConsistency } from './snapshot.js';

const empty = (): XdsResources => ({
  resources: {
    [TypeUrl.Listener]: [],
    [TypeUrl.RouteConfiguration]: [],
    [TypeUrl.Cluster]: [],
    [TypeUrl.ClusterLoadAssignment]: [],
  },
  warnings: [],
});

describe('snapshot', () => {
  test('consistency names every dangling reference and every duplicate', () => {
    const x = empty();
    x.resources[TypeUrl.Listener].push({
      name: 'a',
      resource: {
        name: 'a',
        api_listener: { api_listener: { rds: { route_config_name: 'missing-route' } } },
      },
    });
    x.resources[TypeUrl.RouteConfiguration].push({
      name: 'r',
      resource: {
        virtual_hosts: [
          {
            routes: [
              { route: { cluster: 'c' } },
              { route: { weighted_clusters: { clusters: [{ name: 'gone' }] } } },
            ],
          },
        ],
      },
    });
    x.resources[TypeUrl.Cluster].push(
      { name: 'c', resource: { type: 'EDS', eds_cluster_config: { service_name: 'c' } } },
      { name: 'c', resource: { type: 'EDS' } },
    );
    expect(checkConsistency(x)).toEqual([
      'Cluster c is defined twice',
      'Listener a uses RouteConfiguration missing-route, which does not exist',
      'RouteConfiguration r routes to Cluster gone, which does not exist',
      'Cluster c reads endpoints c, which do not exist',
      'Cluster c reads endpoints c, which do not exist',
    ]);
  });

  test('the translation of a whole sample mesh is consistent', () => {
    expect(checkConsistency(translateView(regionView('eu-west', 1, sampleMesh())))).toEqual([]);
  });

  test('a changed resource changes its own hash and its type hash, nothing else', () => {
    const protos = loadXdsProtos();
    const mesh = sampleMesh();
    const a = buildSnapshot(
      { version: 1, hash: 'h1' },
      translateView(regionView('eu-west', 1, mesh)),
      protos,
    );
    const eps = mesh.find((m) => m.kind === 'ServiceEndpoints' && m.metadata.name === 'checkout-eu-west')!;
    (eps.spec as { endpoints: { address: string }[] }).endpoints[0]!.address = '10.1.2.99';
    const b = buildSnapshot(
      { version: 2, hash: 'h2' },
      translateView(regionView('eu-west', 2, mesh)),
      protos,
    );

    expect(b.version).toBe('2');
    const changedTypes = PUSH_ORDER.filter((t) => a.types[t].hash !== b.types[t].hash);
    expect(changedTypes).toEqual([TypeUrl.ClusterLoadAssignment]);
    const eds = TypeUrl.ClusterLoadAssignment;
    const changed = [...b.types[eds].resources.values()].filter(
      (r) => a.types[eds].resources.get(r.name)?.hash !== r.hash,
    );
    expect(changed.map((r) => r.name)).toEqual(['checkout.shop']);
    expect(Object.isFrozen(b)).toBe(true);
  });
});

describe('parseListen', () => {
  test.each([
    ['127.0.0.1:18000', { host: '127.0.0.1', port: 18000 }],
    ['0.0.0.0:0', { host: '0.0.0.0', port: 0 }],
    ['[::1]:18000', { host: '::1', port: 18000 }],
    ['localhost:9', { host: 'localhost', port: 9 }],
  ])('%s', (text, expected) => {
    expect(parseListen(text)).toEqual(expected);
  });

  test.each(['18000', ':18000', 'host:', 'host:70000', '::1:18000'])('rejects %s', (text) => {
    expect(() => parseListen(text)).toThrow(/host:port/);
  });
});

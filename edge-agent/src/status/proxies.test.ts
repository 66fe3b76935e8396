import { describe, expect, it } from 'vitest';
import type { ProxyStatus } from '../xds/index.js';
import { createProxyInventory } from './proxies.js';

const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const proxy = (id: string, stream: number): ProxyStatus => ({
  id,
  userAgent: 'gRPC Node Pure JS',
  stream,
  protocol: 'sotw',
  connectedAt: '2026-12-01T00:00:00.000Z',
  acked: { [EDS]: '41' },
  nacks: [],
  subscriptions: { [EDS]: ['a', 'b'], 'type.googleapis.com/envoy.config.cluster.v3.Cluster': ['*'] },
});

describe('proxy inventory', () => {
  it('inventory - NACK totals are kept per node across reconnects, and an unchanged inventory is not sent again', () => {
    let t = 0;
    const inv = createProxyInventory(() => t);
    const nack = (p: ProxyStatus, reason: string) =>
      inv.record({ type: 'nacked', proxy: p, nack: { typeUrl: EDS, version: '42', reason, at: 'now' } });
    const first = proxy('node-1', 1);
    nack(first, 'bad matcher');
    inv.record({ type: 'disconnected', proxy: first });
    const again = proxy('node-1', 7);
    nack(again, 'still bad');
    const report = inv.forReport([again, proxy('node-0', 3)])!;
    expect(report.map((p) => p.node)).toEqual(['node-0', 'node-1']);
    expect(report[1]).toMatchObject({
      nacks: 2,
      lastNack: { reason: 'still bad', version: '42' },
      subscribed: { [EDS]: 2, 'type.googleapis.com/envoy.config.cluster.v3.Cluster': -1 },
      client: 'gRPC Node Pure JS',
    });
    expect(report[0]!.nacks).toBe(0);
    expect(inv.totalNacks(), 'the region total keeps the disconnected stream NACK').toBe(2);
    expect(inv.forReport([again, proxy('node-0', 3)]), 'unchanged: not sent again').toBeUndefined();
    t += 61_000;
    expect(inv.forReport([again, proxy('node-0', 3)]), 'but again after a minute').toBeDefined();
  });

  it('inventory - a proxy is named with its client version, which says what xDS fields it knows', () => {
    const inv = createProxyInventory(() => 0);
    const [report] = inv.forReport([{ ...proxy('node-2', 9), userAgentVersion: '1.14.1' }])!;
    expect(report!.client).toBe('gRPC Node Pure JS 1.14.1');
  });
});

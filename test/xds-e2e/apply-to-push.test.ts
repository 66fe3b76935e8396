import { silentLogger } from '@fedmesh/shared';
import { afterEach, describe, expect, test } from 'vitest';
import { createXdsServer, TypeUrl, type XdsPush, type XdsServer } from '../../edge-agent/src/xds/index.js';
import { manifest, regionView } from '../../edge-agent/src/xds/testing.js';
import { type RawStream, rawAds } from '../xds/support.js';

/**
 * The apply-to-push hook behind `fedmesh_agent_apply_to_push_seconds`: only responses a new view
 * caused count, timed from when the view was applied, on both ADS flavours.
 */
const NODE = { id: 'timed', cluster: 'bench' };
const view = (version: number, ip: string) =>
  regionView('eu-west', version, [
    manifest('Service', 'shop', 'payments', { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] }),
    manifest('ServiceEndpoints', 'shop', 'payments-eu-west', {
      service: 'payments',
      region: 'eu-west',
      endpoints: [{ address: ip, port: 9091 }],
    }),
  ]);

let server: XdsServer | undefined;
let stream: RawStream | undefined;
afterEach(async () => {
  stream?.close();
  await server?.close();
});

async function start(pushes: XdsPush[]): Promise<XdsServer> {
  server = await createXdsServer({
    logger: silentLogger(),
    listen: '127.0.0.1:0',
    onPush: (p) => pushes.push(p),
  });
  server.setView(view(1, '10.0.0.1'));
  return server;
}

describe('apply-to-push timing', () => {
  test('state of the world - a response to a request is not a push; one caused by a new view is, timed from its apply', async () => {
    const pushes: XdsPush[] = [];
    const srv = await start(pushes);
    stream = rawAds(srv.port);
    const request = {
      node: NODE,
      type_url: TypeUrl.ClusterLoadAssignment,
      resource_names: ['payments.shop'],
    };
    stream.send({ ...request, version_info: '', response_nonce: '' });
    const first = await stream.next();
    stream.send({ ...request, version_info: first.version_info, response_nonce: first.nonce });
    await expect.poll(() => srv.proxies()[0]?.acked[TypeUrl.ClusterLoadAssignment]).toBe('1');
    expect(pushes).toEqual([]);

    srv.setView(view(2, '10.0.0.2'), { appliedAt: performance.now() - 40 });
    expect((await stream.next()).version_info).toBe('2');
    await expect.poll(() => pushes.length).toBe(1);
    expect(pushes[0]).toMatchObject({
      typeUrl: TypeUrl.ClusterLoadAssignment,
      version: '2',
      proxy: 'timed',
      protocol: 'sotw',
    });
    expect(pushes[0]!.sinceApplyMs).toBeGreaterThanOrEqual(40);
  });

  test('delta - a new view is reported as a push too', async () => {
    const pushes: XdsPush[] = [];
    const srv = await start(pushes);
    stream = rawAds(srv.port, 'delta');
    stream.send({
      node: NODE,
      type_url: TypeUrl.ClusterLoadAssignment,
      resource_names_subscribe: ['payments.shop'],
      response_nonce: '',
    });
    await stream.next();
    expect(pushes).toEqual([]);
    srv.setView(view(2, '10.0.0.2'));
    expect((await stream.next()).system_version_info).toBe('2');
    await expect.poll(() => pushes.map((p) => [p.protocol, p.version])).toEqual([['delta', '2']]);
    expect(pushes[0]!.sinceApplyMs).toBeGreaterThanOrEqual(0);
  });
});

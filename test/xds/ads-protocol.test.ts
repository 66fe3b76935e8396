import { silentLogger, type ViewResource } from '@fedmesh/shared';
import { afterEach, describe, expect, test } from 'vitest';
import {
  createXdsServer,
  TypeUrl,
  translateView,
  type XdsEvent,
  type XdsServer,
} from '../../edge-agent/src/xds/index.js';
import { loadXdsProtos } from '../../edge-agent/src/xds/server/protos.js';
import { manifest, regionView } from '../../edge-agent/src/xds/testing.js';
import { type RawStream, rawAds } from './support.js';

/**
 * The ADS protocol rules (versions, nonces, ACK/NACK, what is sent when) checked on raw
 * streams from @grpc/grpc-js, with the protos loaded independently of the server's encoder.
 */
const REGION = 'eu-west';
const NS = 'shop';
const LDS = TypeUrl.Listener;
const CDS = TypeUrl.Cluster;
const EDS = TypeUrl.ClusterLoadAssignment;
const NODE = { id: 'raw-1', cluster: 'raw' };

interface Mesh {
  ledger?: boolean;
  paymentsIp?: string;
}
function view(version: number, mesh: Mesh = {}) {
  const svc = (name: string, ip: string): ViewResource[] => [
    manifest('Service', NS, name, { ports: [{ name: 'grpc', port: 9091, protocol: 'grpc' }] }),
    manifest('ServiceEndpoints', NS, `${name}-${REGION}`, {
      service: name,
      region: REGION,
      endpoints: [{ address: ip, port: 9091 }],
    }),
  ];
  return regionView(REGION, version, [
    ...svc('payments', mesh.paymentsIp ?? '10.0.0.1'),
    ...svc('checkout', '10.0.0.2'),
    ...(mesh.ledger ? svc('ledger', '10.0.0.3') : []),
  ]);
}

let server: XdsServer | undefined;
let events: XdsEvent[] = [];
const streams: RawStream[] = [];
async function start(): Promise<XdsServer> {
  // Each server gets its own list: a closing server's late events must not leak into the next test.
  const own: XdsEvent[] = [];
  events = own;
  server = await createXdsServer({
    logger: silentLogger(),
    listen: '127.0.0.1:0',
    onChange: (e) => own.push(e),
  });
  return server;
}
function open(protocol: 'sotw' | 'delta' = 'sotw'): RawStream {
  const stream = rawAds(server!.port, protocol);
  streams.push(stream);
  return stream;
}
afterEach(async () => {
  for (const s of streams.splice(0)) s.close();
  await server?.close();
  server = undefined;
});

const sotw = (
  type: string,
  names: string[],
  ack: { version?: string; nonce?: string; error?: string } = {},
) => ({
  node: NODE,
  type_url: type,
  resource_names: names,
  version_info: ack.version ?? '',
  response_nonce: ack.nonce ?? '',
  error_detail: ack.error ? { code: 3, message: ack.error } : null,
});
const claNames = (r: { resources: { type_url?: string; value?: Buffer }[] }) =>
  r.resources.map((a) => loadXdsProtos().decodeAny({ type_url: a.type_url!, value: a.value! }).cluster_name);

describe('ADS state of the world', () => {
  test('answers nothing before the first view, then every subscribed type, clusters first', async () => {
    const srv = await start();
    const s = open();
    s.send(sotw(LDS, []));
    s.send(sotw(CDS, []));
    await s.silence();
    // Both requests must have reached the server before the view does: "clusters first" orders
    // the types a proxy has asked for, not requests still in flight.
    await expect
      .poll(() => Object.keys(srv.proxies()[0]?.subscriptions ?? {}).sort())
      .toEqual([CDS, LDS].sort());
    srv.setView(view(1));
    const cds = await s.next();
    const lds = await s.next();
    expect([cds.type_url, cds.version_info, cds.resources.length]).toEqual([CDS, '1', 2]);
    expect([lds.type_url, lds.version_info, lds.resources.length]).toEqual([LDS, '1', 2]);
    expect(cds.nonce).not.toBe(lds.nonce);
    expect(lds.resources.every((r) => r.type_url === LDS)).toBe(true);
  });

  test('a plain ACK gets no response and is recorded as the accepted version', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open();
    s.send(sotw(LDS, []));
    const r = await s.next();
    s.send(sotw(LDS, [], { version: r.version_info, nonce: r.nonce }));
    await s.silence();
    // silence() says nothing came back; the poll waits until the server has seen the ACK.
    await expect.poll(() => srv.proxies()[0]?.acked[LDS]).toBe('1');
    expect(srv.proxies()).toMatchObject([
      {
        id: 'raw-1',
        cluster: 'raw',
        protocol: 'sotw',
        acked: { [LDS]: '1' },
        nacks: [],
        subscriptions: { [LDS]: ['*'] },
      },
    ]);
    expect(events.map((e) => e.type)).toEqual(['connected', 'acked']);
  });

  test('a NACK is recorded with its reason, and the refused config is not sent again', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open();
    s.send(sotw(LDS, []));
    const r1 = await s.next();
    s.send(sotw(LDS, [], { version: '1', nonce: r1.nonce }));
    // Pushing before the ACK arrives would make that ACK stale (and rightly ignored).
    await expect.poll(() => srv.proxies()[0]?.acked[LDS]).toBe('1');
    srv.setView(view(2, { ledger: true }));
    const r2 = await s.next();
    expect([r2.version_info, r2.resources.length]).toEqual(['2', 3]);

    s.send(sotw(LDS, [], { version: '1', nonce: r2.nonce, error: 'listener ledger.shop: bad filter' }));
    await s.silence();
    await expect.poll(() => srv.proxies()[0]?.nacks.length).toBe(1);
    const [proxy] = srv.proxies();
    expect(proxy?.acked[LDS]).toBe('1');
    expect(proxy?.nacks).toEqual([
      { typeUrl: LDS, version: '2', reason: 'listener ledger.shop: bad filter', at: expect.any(String) },
    ]);
    expect(events.at(-1)).toMatchObject({ type: 'nacked', nack: { version: '2' } });

    // A view that leaves listeners as they were does not resend them...
    srv.setView(view(3, { ledger: true, paymentsIp: '10.0.0.9' }));
    await s.silence();
    // ...a view that changes them does.
    srv.setView(view(4));
    const r4 = await s.next();
    expect([r4.version_info, r4.resources.length]).toEqual(['4', 2]);
  });

  test('a request echoing an older nonce is stale and ignored, subscription changes included', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open();
    s.send(sotw(EDS, ['payments.shop']));
    const r1 = await s.next();
    expect(claNames(r1)).toEqual(['payments.shop']);
    s.send(sotw(EDS, ['payments.shop'], { version: '1', nonce: r1.nonce }));
    srv.setView(view(2, { paymentsIp: '10.0.0.9' }));
    const r2 = await s.next();
    expect(r2.version_info).toBe('2');

    s.send(sotw(EDS, ['payments.shop', 'checkout.shop'], { version: '1', nonce: r1.nonce }));
    await s.silence();
    expect(srv.proxies()[0]?.subscriptions[EDS]).toEqual(['payments.shop']);

    s.send(sotw(EDS, ['payments.shop', 'checkout.shop'], { version: '2', nonce: r2.nonce }));
    const r3 = await s.next();
    expect(claNames(r3).sort()).toEqual(['checkout.shop', 'payments.shop']);
    expect(r3.nonce).not.toBe(r2.nonce);
  });

  test('RDS and EDS carry the subscribed names, or all of them for an explicit wildcard', async () => {
    const srv = await start();
    srv.setView(view(1, { ledger: true }));
    const s = open();
    s.send(sotw(EDS, ['ledger.shop', 'nope.shop']));
    expect(claNames(await s.next())).toEqual(['ledger.shop']);
    const w = open();
    w.send(sotw(EDS, ['*']));
    expect(claNames(await w.next()).sort()).toEqual(['checkout.shop', 'ledger.shop', 'payments.shop']);
  });

  test('a new view is pushed only as the types it changed, and EDS only to streams holding a changed assignment', async () => {
    const srv = await start();
    srv.setView(view(1));
    const a = open();
    const b = open();
    for (const [s, eds] of [
      [a, 'checkout.shop'],
      [b, 'payments.shop'],
    ] as const) {
      for (const [type, names] of [
        [CDS, []],
        [LDS, []],
        [EDS, [eds]],
      ] as const) {
        s.send(sotw(type, [...names]));
        const r = await s.next();
        s.send(sotw(type, [...names], { version: r.version_info, nonce: r.nonce }));
      }
    }
    const result = srv.setView(view(2, { paymentsIp: '10.0.0.9' }));
    expect(result.changed).toEqual([EDS]);
    const pushed = await b.next();
    expect([pushed.type_url, pushed.version_info, claNames(pushed)]).toEqual([EDS, '2', ['payments.shop']]);
    await Promise.all([a.silence(), b.silence()]);
  });

  test('unsubscribing is not answered; subscribing again is', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open();
    s.send(sotw(EDS, ['payments.shop', 'checkout.shop']));
    const r1 = await s.next();
    s.send(sotw(EDS, ['payments.shop'], { version: '1', nonce: r1.nonce }));
    await s.silence();
    s.send(sotw(EDS, ['payments.shop', 'checkout.shop'], { version: '1', nonce: r1.nonce }));
    expect(claNames(await s.next()).sort()).toEqual(['checkout.shop', 'payments.shop']);
  });

  test('an empty list is a wildcard only until the client names a resource; after that it subscribes to nothing', async () => {
    const srv = await start();
    srv.setView(view(1));
    const legacy = open();
    legacy.send(sotw(CDS, []));
    const l1 = await legacy.next();
    legacy.send(sotw(CDS, [], { version: '1', nonce: l1.nonce }));
    const named = open();
    named.send(sotw(CDS, ['payments.shop']));
    const n1 = await named.next();
    expect(n1.resources).toHaveLength(2); // CDS is full state: every cluster, whatever was named
    named.send(sotw(CDS, [], { version: '1', nonce: n1.nonce }));
    await expect.poll(() => srv.proxies().map((p) => p.subscriptions[CDS])).toEqual([['*'], []]);

    srv.setView(view(2, { ledger: true }));
    expect((await legacy.next()).resources).toHaveLength(3);
    await named.silence();
  });

  test('the same view again changes nothing; an inconsistent translation is refused and the old view kept', async () => {
    const inconsistent = { ok: false };
    const srv = await createXdsServer({
      logger: silentLogger(),
      listen: '127.0.0.1:0',
      translate: (v) => {
        const out = translateView(v);
        if (inconsistent.ok) out.resources[TypeUrl.Cluster] = [];
        return out;
      },
    });
    server = srv;
    expect(srv.current()).toBeUndefined();
    const v1 = view(1);
    expect(srv.setView(v1).changed).toEqual([CDS, EDS, LDS, TypeUrl.RouteConfiguration]);
    expect(srv.setView(v1).changed).toEqual([]);
    inconsistent.ok = true;
    expect(() => srv.setView(view(2, { ledger: true }))).toThrow(
      /RouteConfiguration payments\.shop routes to Cluster payments\.shop, which does not exist/,
    );
    expect(srv.current()).toEqual({ version: 1, hash: v1.hash });
  });

  test('a proxy is listed with its node while connected and reported when it goes', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open();
    s.send(sotw(CDS, []));
    await s.next();
    expect(srv.proxies().map((p) => p.id)).toEqual(['raw-1']);
    s.close();
    await expect.poll(() => srv.proxies()).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['connected', 'disconnected']);
  });
});

const delta = (type: string, opts: Partial<Record<string, unknown>> = {}) => ({
  node: NODE,
  type_url: type,
  resource_names_subscribe: [],
  resource_names_unsubscribe: [],
  initial_resource_versions: {},
  response_nonce: '',
  error_detail: null,
  ...opts,
});
const deltaNames = (r: { resources: { name?: string }[] }) => r.resources.map((x) => x.name).sort();

describe('ADS delta', () => {
  test('a wildcard gets every resource with a per-resource version; an ACK gets nothing', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open('delta');
    s.send(delta(CDS));
    const r = await s.next();
    expect([r.type_url, r.system_version_info, deltaNames(r)]).toEqual([
      CDS,
      '1',
      ['checkout.shop', 'payments.shop'],
    ]);
    expect(r.resources.every((x) => /^[0-9a-f]{64}$/.test(x.version!))).toBe(true);
    s.send(delta(CDS, { response_nonce: r.nonce }));
    await s.silence();
    expect(srv.proxies()[0]).toMatchObject({ protocol: 'delta', acked: { [CDS]: '1' } });
  });

  test('only changed resources are sent, and removed ones are named', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open('delta');
    s.send(delta(CDS));
    await s.next();
    srv.setView(view(2, { ledger: true }));
    const added = await s.next();
    expect([deltaNames(added), added.removed_resources]).toEqual([['ledger.shop'], []]);
    srv.setView(view(3));
    const removed = await s.next();
    expect([deltaNames(removed), removed.removed_resources]).toEqual([[], ['ledger.shop']]);
  });

  test('a client holding current versions gets nothing for them; a name that does not exist is reported removed', async () => {
    const srv = await start();
    srv.setView(view(1));
    const probe = open('delta');
    probe.send(delta(EDS, { resource_names_subscribe: ['payments.shop'] }));
    const held = (await probe.next()).resources[0]!;

    const s = open('delta');
    s.send(
      delta(EDS, {
        resource_names_subscribe: ['payments.shop', 'nope.shop'],
        initial_resource_versions: { 'payments.shop': held.version },
      }),
    );
    const r = await s.next();
    expect([deltaNames(r), r.removed_resources]).toEqual([[], ['nope.shop']]);
    s.send(delta(EDS, { response_nonce: r.nonce, resource_names_subscribe: ['checkout.shop'] }));
    const r2 = await s.next();
    expect([deltaNames(r2), r2.removed_resources]).toEqual([['checkout.shop'], []]);
  });

  test('a NACK is recorded and the refused resource is not sent again until it changes', async () => {
    const srv = await start();
    srv.setView(view(1));
    const s = open('delta');
    s.send(delta(EDS, { resource_names_subscribe: ['payments.shop'] }));
    const r1 = await s.next();
    s.send(delta(EDS, { response_nonce: r1.nonce, error_detail: { code: 3, message: 'bad endpoint' } }));
    await s.silence();
    await expect.poll(() => srv.proxies()[0]?.nacks.length).toBe(1);
    expect(srv.proxies()[0]?.nacks).toEqual([
      { typeUrl: EDS, version: '1', reason: 'bad endpoint', at: expect.any(String) },
    ]);
    srv.setView(view(2, { ledger: true }));
    await s.silence();
    srv.setView(view(3, { ledger: true, paymentsIp: '10.0.0.9' }));
    expect(deltaNames(await s.next())).toEqual(['payments.shop']);
  });
});

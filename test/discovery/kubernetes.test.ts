/**
 * The agent's Kubernetes discovery source against the stand-in kube-apiserver
 * (test/support/kube-apiserver.ts), through the real `@kubernetes/client-node` informers: the
 * first list, watch events, bookmarks, a 410 on watch (the re-list is the only way to learn
 * what changed meanwhile), namespaces and the label selector, and an API server that goes away
 * (the last endpoints stay).
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKubernetesSource, type KubernetesSource } from '../../edge-agent/src/discovery/kubernetes.js';
import type { DiscoveredEndpoint } from '../../edge-agent/src/discovery/source.js';
import { testLogger, waitFor } from '../support/fedmesh.js';
import { endpointSlice, type KubeApiServer, pod, startKubeApiServer } from '../support/kube-apiserver.js';

const v1 = { app: 'payments', version: 'v1', 'pod-template-hash': '7d9f8c6b5' };
const v2 = { app: 'payments', version: 'v2', 'pod-template-hash': '5c4b3a291' };

describe('the Kubernetes discovery source', () => {
  let api: KubeApiServer;
  const sources: KubernetesSource[] = [];

  const open = async (opts: { namespaces?: string[]; selector?: string } = {}) => {
    const source = await createKubernetesSource({
      region: 'eu-west',
      kubeconfig: api.kubeconfig,
      namespaces: opts.namespaces ?? [],
      ...(opts.selector ? { selector: opts.selector } : {}),
      log: testLogger('kubernetes'),
    });
    sources.push(source);
    return source;
  };
  const of = (source: KubernetesSource, service: string) =>
    source.list().filter((e) => `${e.namespace}/${e.service}` === service);
  /** Waits until `source` says of `service` what `want` says (the whole list, in its order). */
  const until = (source: KubernetesSource, service: string, want: DiscoveredEndpoint[], what: string) =>
    waitFor(() => JSON.stringify(of(source, service)) === JSON.stringify(want) || undefined, {
      what: `${what} (have ${JSON.stringify(of(source, service))})`,
    });
  const ep = (address: string, healthy: boolean, more: Partial<DiscoveredEndpoint> = {}) => ({
    namespace: 'shop',
    service: 'payments',
    address,
    port: 8443,
    ...more,
    healthy,
  });

  beforeAll(async () => {
    api = await startKubeApiServer();
    api.put('pods', pod({ namespace: 'shop', name: 'payments-a', labels: v1, ip: '10.1.0.1' }));
    api.put('pods', pod({ namespace: 'shop', name: 'payments-b', labels: v2, ip: '10.1.0.2' }));
    // Two slices of one Service, the second from an older controller (zone in deprecatedTopology).
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'payments',
        name: 'payments-x1',
        labels: { team: 'payments' },
        ports: [
          { name: 'grpc', port: 8443 },
          { name: 'metrics', port: 9100 },
        ],
        endpoints: [
          { ip: '10.1.0.1', pod: 'payments-a', zone: 'eu-west-1a', nodeName: 'node-1' },
          { ip: '10.1.0.2', pod: 'payments-b', zone: 'eu-west-1b', nodeName: 'node-2' },
        ],
      }),
    );
    const older = endpointSlice({
      namespace: 'shop',
      service: 'payments',
      name: 'payments-x2',
      labels: { team: 'payments' },
      ports: [
        { name: 'grpc', port: 8443 },
        { name: 'metrics', port: 9100 },
      ],
      endpoints: [{ ip: '10.1.0.9', pod: 'payments-unknown' }],
    });
    (older.endpoints as { deprecatedTopology?: Record<string, string> }[])[0]!.deprecatedTopology = {
      'topology.kubernetes.io/zone': 'eu-west-1c',
    };
    api.put('endpointslices', older);
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'tools',
        service: 'grafana',
        name: 'grafana-x1',
        labels: { team: 'ops' },
        ports: [{ name: 'http', port: 3000 }],
        endpoints: [{ ip: '10.2.0.1' }],
      }),
    );
  }, 60_000);

  afterEach(() => {
    for (const s of sources.splice(0)) s.stop();
  });
  afterAll(async () => {
    await api?.close();
  });

  it('kubernetes - the first list gives every endpoint with its zone and its pod labels, on the first port', async () => {
    const source = await open();
    await until(
      source,
      'shop/payments',
      [
        ep('10.1.0.1', true, { zone: 'eu-west-1a', labels: { app: 'payments', version: 'v1' } }),
        ep('10.1.0.2', true, { zone: 'eu-west-1b', labels: { app: 'payments', version: 'v2' } }),
        // Its pod is not known: no labels, rather than made-up ones.
        ep('10.1.0.9', true, { zone: 'eu-west-1c' }),
      ],
      'both slices of shop/payments, merged',
    );
    expect(of(source, 'tools/grafana')).toEqual([
      { namespace: 'tools', service: 'grafana', address: '10.2.0.1', port: 3000, healthy: true },
    ]);
    expect(source.status()).toMatchObject({ synced: true, errors: 0 });
    // It asks for what keeps a reconnect cheap: bookmarks, and a server-side end to each watch.
    const sliceWatch = api.watchQueries.find((q) => q.get('resourceVersion') && q.get('timeoutSeconds'));
    expect(sliceWatch?.get('allowWatchBookmarks')).toBe('true');
    expect(Number(sliceWatch?.get('timeoutSeconds'))).toBeGreaterThanOrEqual(300);
  });

  it('kubernetes - watch events: a slice update flips health, a pod relabel follows, a new slice joins, a delete removes', async () => {
    const source = await open({ namespaces: ['shop'] });
    let told = 0;
    source.onChange(() => told++);
    await waitFor(() => of(source, 'shop/payments').length === 3 || undefined, { what: 'the first list' });

    const slice = (endpoints: Parameters<typeof endpointSlice>[0]['endpoints']) =>
      endpointSlice({
        namespace: 'shop',
        service: 'payments',
        name: 'payments-x1',
        labels: { team: 'payments' },
        ports: [{ name: 'grpc', port: 8443 }],
        endpoints,
      });
    // Not ready, and terminating while still serving: both leave the healthy set.
    api.put(
      'endpointslices',
      slice([
        { ip: '10.1.0.1', pod: 'payments-a', zone: 'eu-west-1a', ready: false },
        {
          ip: '10.1.0.2',
          pod: 'payments-b',
          zone: 'eu-west-1b',
          ready: false,
          serving: true,
          terminating: true,
        },
      ]),
    );
    await until(
      source,
      'shop/payments',
      [
        ep('10.1.0.1', false, { zone: 'eu-west-1a', labels: { app: 'payments', version: 'v1' } }),
        ep('10.1.0.2', false, { zone: 'eu-west-1b', labels: { app: 'payments', version: 'v2' } }),
        ep('10.1.0.9', true, { zone: 'eu-west-1c' }),
      ],
      'the not-ready and the terminating endpoint to turn unhealthy',
    );
    expect(told).toBeGreaterThan(0);

    // The unknown pod appears; a known one is relabelled (a canary promoted).
    api.put('pods', pod({ namespace: 'shop', name: 'payments-unknown', labels: v2, ip: '10.1.0.9' }));
    api.put('pods', pod({ namespace: 'shop', name: 'payments-a', labels: { ...v1, version: 'v3' } }));
    api.put(
      'endpointslices',
      slice([
        { ip: '10.1.0.1', pod: 'payments-a', zone: 'eu-west-1a' },
        { ip: '10.1.0.2', pod: 'payments-b', zone: 'eu-west-1b' },
      ]),
    );
    await until(
      source,
      'shop/payments',
      [
        ep('10.1.0.1', true, { zone: 'eu-west-1a', labels: { app: 'payments', version: 'v3' } }),
        ep('10.1.0.2', true, { zone: 'eu-west-1b', labels: { app: 'payments', version: 'v2' } }),
        ep('10.1.0.9', true, { zone: 'eu-west-1c', labels: { app: 'payments', version: 'v2' } }),
      ],
      'pod labels and readiness to follow',
    );

    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'cart',
        name: 'cart-x1',
        ports: [{ name: 'http', port: 8080 }],
        endpoints: [{ ip: '10.1.1.1' }, { ip: '10.1.1.2', ready: false }],
      }),
    );
    await waitFor(() => of(source, 'shop/cart').length === 2 || undefined, { what: 'the new slice' });
    expect(of(source, 'shop/cart').map((e) => e.healthy)).toEqual([true, false]);

    api.remove('endpointslices', 'shop', 'cart-x1');
    await waitFor(() => of(source, 'shop/cart').length === 0 || undefined, {
      what: 'the deleted slice to go',
    });
    expect(source.status().errors).toBe(0);
  });

  it('kubernetes - a bookmark changes nothing: no change told, no new list, the same watch goes on', async () => {
    const source = await open({ namespaces: ['shop'] });
    await waitFor(() => (source.status().synced && api.watchers('endpointslices') > 0) || undefined, {
      what: 'the source to list and watch',
    });
    const before = JSON.stringify(source.list());
    const lists = source.status().lists;
    const watches = api.requests.endpointslices.watches;
    let told = 0;
    source.onChange(() => told++);
    expect(api.bookmark()).toBeGreaterThan(0);
    // Something after the bookmark on the same stream: once it is in, the bookmark was read.
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'after-bookmark',
        name: 'after-bookmark-x1',
        endpoints: [{ ip: '10.1.2.1' }],
      }),
    );
    await waitFor(() => of(source, 'shop/after-bookmark').length === 1 || undefined, {
      what: 'the change after the bookmark',
    });
    expect(JSON.stringify(source.list().filter((e) => e.service !== 'after-bookmark'))).toBe(before);
    expect(told).toBe(1);
    expect(source.status()).toMatchObject({ lists, errors: 0 });
    expect(api.requests.endpointslices.watches).toBe(watches);
    api.remove('endpointslices', 'shop', 'after-bookmark-x1');
  });

  it('kubernetes - a cut watch resumes where it was, without listing again', async () => {
    const source = await open({ namespaces: ['shop'] });
    await waitFor(() => (source.status().synced && api.watchers('endpointslices') > 0) || undefined, {
      what: 'the source to list and watch',
    });
    const lists = api.requests.endpointslices.lists;
    expect(api.cutWatches()).toBeGreaterThan(0);
    // Made while no watch is open: the resumed watch replays it from the server's history.
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'resumed',
        name: 'resumed-x1',
        endpoints: [{ ip: '10.1.3.1' }],
      }),
    );
    await waitFor(() => of(source, 'shop/resumed').length === 1 || undefined, {
      what: 'the change made while the watch was cut',
    });
    expect(api.requests.endpointslices.lists).toBe(lists);
    api.remove('endpointslices', 'shop', 'resumed-x1');
    await waitFor(() => of(source, 'shop/resumed').length === 0 || undefined, { what: 'the delete' });
  });

  it('kubernetes - a 410 on watch makes the informer list again, and the source converges on what the server holds', async () => {
    const source = await open({ namespaces: ['shop'] });
    await waitFor(() => (source.status().synced && api.watchers('endpointslices') > 0) || undefined, {
      what: 'the source to list and watch',
    });
    const lists = source.status().lists;
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'doomed',
        name: 'doomed-x1',
        endpoints: [{ ip: '10.1.4.1' }],
      }),
    );
    await waitFor(() => of(source, 'shop/doomed').length === 1 || undefined, { what: 'shop/doomed' });

    // One synchronous step, so the client cannot reconnect in between: the watches break, the
    // server changes, and its history of those changes is gone. Only a list can tell them now.
    api.cutWatches();
    api.remove('endpointslices', 'shop', 'doomed-x1');
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'payments',
        name: 'payments-x1',
        labels: { team: 'payments' },
        ports: [{ name: 'grpc', port: 8443 }],
        endpoints: [
          { ip: '10.1.0.1', pod: 'payments-a', zone: 'eu-west-1a' },
          { ip: '10.1.0.2', pod: 'payments-b', zone: 'eu-west-1b', ready: false },
        ],
      }),
    );
    api.expireHistory();

    await waitFor(
      () =>
        (of(source, 'shop/doomed').length === 0 &&
          of(source, 'shop/payments').find((e) => e.address === '10.1.0.2')?.healthy === false) ||
        undefined,
      { what: 'the source to learn, by listing again, what changed while its watch was broken' },
    );
    expect(api.requests.endpointslices.expired).toBeGreaterThan(0);
    expect(source.status().lists).toBeGreaterThan(lists);
    // And it watches again from the new list's resourceVersion: later changes arrive.
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'later',
        name: 'later-x1',
        endpoints: [{ ip: '10.1.5.1' }],
      }),
    );
    await waitFor(() => of(source, 'shop/later').length === 1 || undefined, {
      what: 'a change after the re-list',
    });
    api.remove('endpointslices', 'shop', 'later-x1');
  });

  it('kubernetes - only the namespaces asked for, and only the slices the selector picks, followed as labels change', async () => {
    const shopOnly = await open({ namespaces: ['shop'] });
    const toolsOnly = await open({ namespaces: ['tools', 'nowhere'] });
    const paymentsTeam = await open({ selector: 'team in (payments),!retired' });
    await waitFor(
      () =>
        (shopOnly.status().synced && toolsOnly.status().synced && paymentsTeam.status().synced) || undefined,
      { what: 'three sources to list' },
    );
    const services = (s: KubernetesSource) => [
      ...new Set(s.list().map((e) => `${e.namespace}/${e.service}`)),
    ];
    await waitFor(() => services(shopOnly).includes('shop/payments') || undefined, { what: 'shop' });
    expect(services(shopOnly).every((s) => s.startsWith('shop/'))).toBe(true);
    await waitFor(() => services(toolsOnly).includes('tools/grafana') || undefined, { what: 'tools' });
    expect(services(toolsOnly)).toEqual(['tools/grafana']);
    await waitFor(() => services(paymentsTeam).includes('shop/payments') || undefined, { what: 'the team' });
    expect(services(paymentsTeam)).toEqual(['shop/payments']);

    // A Service that joins the team, and one that leaves it: the selector follows the labels.
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'tools',
        service: 'grafana',
        name: 'grafana-x1',
        labels: { team: 'payments' },
        ports: [{ name: 'http', port: 3000 }],
        endpoints: [{ ip: '10.2.0.1' }],
      }),
    );
    await waitFor(() => services(paymentsTeam).includes('tools/grafana') || undefined, {
      what: 'grafana to start matching',
    });
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'tools',
        service: 'grafana',
        name: 'grafana-x1',
        labels: { team: 'payments', retired: 'true' },
        ports: [{ name: 'http', port: 3000 }],
        endpoints: [{ ip: '10.2.0.1' }],
      }),
    );
    await waitFor(() => !services(paymentsTeam).includes('tools/grafana') || undefined, {
      what: 'grafana to stop matching',
    });
    expect(services(toolsOnly)).toEqual(['tools/grafana']);
  });

  it('kubernetes - while the API server is unreachable the last endpoints stay; once it is back, what changed meanwhile arrives', async () => {
    const source = await open({ namespaces: ['shop'] });
    await waitFor(() => (source.status().synced && api.watchers('endpointslices') > 0) || undefined, {
      what: 'the source to list and watch',
    });
    const before = source.list();
    expect(before.length).toBeGreaterThan(0);
    const errors = source.status().errors;
    let told = 0;
    source.onChange(() => told++);

    await api.goDown();
    // The watches break, and then a try to watch again is refused: the outage is seen whole.
    await waitFor(() => /ECONNREFUSED/.test(source.status().lastError ?? '') || undefined, {
      what: 'the source to find the API server refusing connections',
    });
    expect(source.status().errors).toBeGreaterThan(errors + 1);
    expect(source.list()).toEqual(before);
    expect(told).toBe(0);

    // Changed while the agent cannot see it; the history is kept, so the watch resumes.
    api.put(
      'endpointslices',
      endpointSlice({
        namespace: 'shop',
        service: 'meanwhile',
        name: 'meanwhile-x1',
        endpoints: [{ ip: '10.1.6.1' }],
      }),
    );
    await api.comeBack();
    await waitFor(() => of(source, 'shop/meanwhile').length === 1 || undefined, {
      what: 'the change made during the outage',
      timeoutMs: 45_000,
    });
    expect(source.list().filter((e) => e.service !== 'meanwhile')).toEqual(before);
    api.remove('endpointslices', 'shop', 'meanwhile-x1');
  }, 60_000);

  it('kubernetes - a source started while the API server is down starts empty at once and fills once it is back', async () => {
    await api.goDown();
    try {
      const source = await open({ namespaces: ['tools'] });
      expect(source.list()).toEqual([]);
      expect(source.status()).toMatchObject({ synced: false });
      expect(source.status().errors).toBeGreaterThan(0);
    } finally {
      await api.comeBack();
    }
    const source = sources.at(-1)!;
    await waitFor(() => (of(source, 'tools/grafana').length === 1 && source.status().synced) || undefined, {
      what: 'the first lists once the API server is back',
      timeoutMs: 45_000,
    });
  }, 60_000);
});

import { API_VERSION, canonicalJson, type ViewResource } from '@fedmesh/shared';
import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { diffResources } from './delta.js';

type Endpoint = { address: string; port: number; healthy?: boolean; zone?: string };

const KEY = 'ServiceEndpoints/shop/payments-eu';
const SERVICE_KEY = 'Service/shop/payments';

const endpoint = (i: number, extra: Partial<Endpoint> = {}): Endpoint => ({
  address: `10.0.${i >> 8}.${i & 255}`,
  port: 8080,
  zone: `eu-west-1${'abc'[i % 3]}`,
  ...extra,
});

const endpoints = (list: Endpoint[]): ViewResource => ({
  apiVersion: API_VERSION,
  kind: 'ServiceEndpoints',
  metadata: { name: 'payments-eu', namespace: 'shop' },
  spec: { service: 'payments', region: 'eu', endpoints: list },
});

const service = (ports: { name: string; port: number; protocol: string }[]): ViewResource => ({
  apiVersion: API_VERSION,
  kind: 'Service',
  metadata: { name: 'payments', namespace: 'shop' },
  spec: { ports, dependsOn: ['ledger'] },
});

const range = (n: number) => Array.from({ length: n }, (_, i) => endpoint(i));

/** The ops for one entry, and the view an agent holding `before` gets by applying them. */
function delta(key: string, before: ViewResource | undefined, after: ViewResource | undefined) {
  const a: Record<string, ViewResource> = before ? { [key]: before } : {};
  const b: Record<string, ViewResource> = after ? { [key]: after } : {};
  const ops = diffResources(a, b, [key]);
  const applied = fastJsonPatch.applyPatch(structuredClone(a), structuredClone(ops), true, true).newDocument;
  return { ops, applied, expected: b };
}

describe('delta', () => {
  it('delta - one endpoint removed from 150 is one op', () => {
    const before = range(150);
    const after = before.filter((_, i) => i !== 40);
    const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
    expect(ops).toEqual([
      { op: 'remove', path: `/${'ServiceEndpoints~1shop~1payments-eu'}/spec/endpoints/40` },
    ]);
    expect(applied).toEqual(expected);
  });

  it('delta - one endpoint added in the middle is one op', () => {
    const before = range(150);
    const added = endpoint(999);
    const after = [...before.slice(0, 75), added, ...before.slice(75)];
    const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
    expect(ops).toEqual([
      { op: 'add', path: '/ServiceEndpoints~1shop~1payments-eu/spec/endpoints/75', value: added },
    ]);
    expect(applied).toEqual(expected);
  });

  it('delta - one endpoint turning unhealthy is one replace of its flag', () => {
    const before = range(150).map((e) => ({ ...e, healthy: true }));
    const after = before.map((e, i) => (i === 7 ? { ...e, healthy: false } : e));
    const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
    expect(ops).toEqual([
      { op: 'replace', path: '/ServiceEndpoints~1shop~1payments-eu/spec/endpoints/7/healthy', value: false },
    ]);
    expect(applied).toEqual(expected);
  });

  it('delta - a removal, an insertion and a new flag in one list are three ops whose indices account for each other', () => {
    const before = range(150);
    const after = before.filter((_, i) => i !== 10).map((e, i) => (i === 100 ? { ...e, healthy: false } : e));
    after.splice(50, 0, endpoint(500));
    const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
    expect(ops.map((o) => o.op)).toEqual(['remove', 'add', 'add']);
    expect(applied).toEqual(expected);
  });

  it('delta - one endpoint moved to the end is one move', () => {
    const before = range(150);
    const after = [...before.slice(1), before[0]!];
    const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
    expect(ops).toEqual([
      {
        op: 'move',
        from: '/ServiceEndpoints~1shop~1payments-eu/spec/endpoints/0',
        path: '/ServiceEndpoints~1shop~1payments-eu/spec/endpoints/149',
      },
    ]);
    expect(applied).toEqual(expected);
  });

  it('delta - a port renamed is matched by name and a port added by name is one op', () => {
    const http = { name: 'http', port: 8080, protocol: 'http' };
    const grpc = { name: 'grpc', port: 9090, protocol: 'grpc' };
    const admin = { name: 'admin', port: 9901, protocol: 'http' };
    const before = service([http, grpc, admin]);

    const added = delta(
      SERVICE_KEY,
      before,
      service([http, { name: 'metrics', port: 9100, protocol: 'http' }, grpc, admin]),
    );
    expect(added.ops).toEqual([
      {
        op: 'add',
        path: '/Service~1shop~1payments/spec/ports/1',
        value: { name: 'metrics', port: 9100, protocol: 'http' },
      },
    ]);
    expect(added.applied).toEqual(added.expected);

    // A renamed port is another port: the old one goes, the new one comes, the others stay put.
    const renamed = delta(SERVICE_KEY, before, service([http, { ...grpc, name: 'grpc-web' }, admin]));
    expect(renamed.ops.map((o) => [o.op, o.path])).toEqual([
      ['remove', '/Service~1shop~1payments/spec/ports/1'],
      ['add', '/Service~1shop~1payments/spec/ports/1'],
    ]);
    expect(renamed.applied).toEqual(renamed.expected);

    const renumbered = delta(SERVICE_KEY, before, service([http, { ...grpc, port: 9091 }, admin]));
    expect(renumbered.ops).toEqual([
      { op: 'replace', path: '/Service~1shop~1payments/spec/ports/1/port', value: 9091 },
    ]);
  });

  it('delta - route backends are matched by subset inside rules matched by position', () => {
    const route = (backends: { subset: string; weight: number }[]): ViewResource => ({
      apiVersion: API_VERSION,
      kind: 'TrafficRoute',
      metadata: { name: 'payments', namespace: 'shop' },
      spec: {
        service: 'payments',
        rules: [{ matches: [{ path: { prefix: '/' } }], backends, timeout: '2s', retries: { attempts: 3 } }],
      },
    });
    const { ops, applied, expected } = delta(
      'TrafficRoute/shop/payments',
      route([
        { subset: 'v1', weight: 80 },
        { subset: 'v2', weight: 20 },
      ]),
      route([{ subset: 'v2', weight: 20 }]),
    );
    expect(ops).toEqual([{ op: 'remove', path: '/TrafficRoute~1shop~1payments/spec/rules/0/backends/0' }]);
    expect(applied).toEqual(expected);
  });

  it('delta - a list with duplicate identities is diffed by position and still applies', () => {
    const before = [endpoint(1), endpoint(1, { zone: 'x' }), endpoint(2)];
    const after = [endpoint(1, { zone: 'x' }), endpoint(2)];
    const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
    expect(ops.some((o) => o.op === 'replace')).toBe(true);
    expect(applied).toEqual(expected);
  });

  it('delta - a resource changed throughout is replaced whole', () => {
    const before = range(20);
    const after = range(20).map((e) => ({ ...e, port: 9090 }));
    const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
    expect(ops).toEqual([
      { op: 'replace', path: '/ServiceEndpoints~1shop~1payments-eu', value: endpoints(after) },
    ]);
    expect(applied).toEqual(expected);
  });

  it('delta - the same change always yields byte-identical ops', () => {
    const before = range(150);
    const after = before
      .filter((_, i) => i % 17 !== 3)
      .map((e, i) => (i % 11 === 0 ? { ...e, healthy: false } : e));
    after.splice(30, 0, endpoint(700), endpoint(701));
    after.reverse();
    const first = JSON.stringify(
      diffResources({ [KEY]: endpoints(before) }, { [KEY]: endpoints(after) }, [KEY]),
    );
    for (let n = 0; n < 5; n++) {
      const again = diffResources(
        { [KEY]: endpoints(structuredClone(before)) },
        { [KEY]: endpoints(structuredClone(after)) },
        [KEY],
      );
      expect(JSON.stringify(again)).toBe(first);
    }
  });

  it('delta - applying the ops to a copy of before always yields after exactly', () => {
    const addresses = Array.from({ length: 12 }, (_, i) => `10.1.0.${i}`);
    const endpointArb: fc.Arbitrary<Endpoint> = fc.record(
      {
        address: fc.constantFrom(...addresses),
        port: fc.constantFrom(80, 8080),
        healthy: fc.boolean(),
        zone: fc.constantFrom('a', 'b'),
      },
      { requiredKeys: ['address', 'port'] },
    );
    type Edit =
      | { kind: 'remove'; at: number }
      | { kind: 'insert'; at: number; item: Endpoint }
      | { kind: 'change'; at: number; item: Endpoint }
      | { kind: 'move'; from: number; to: number }
      | { kind: 'duplicate'; at: number };
    const editArb: fc.Arbitrary<Edit> = fc.oneof(
      fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), item: endpointArb }),
      fc.record({ kind: fc.constant('change' as const), at: fc.nat(), item: endpointArb }),
      fc.record({ kind: fc.constant('move' as const), from: fc.nat(), to: fc.nat() }),
      fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat() }),
    );
    const edit = (list: Endpoint[], e: Edit): Endpoint[] => {
      const out = structuredClone(list);
      const n = out.length;
      switch (e.kind) {
        case 'insert':
          out.splice(e.at % (n + 1), 0, e.item);
          return out;
        case 'remove':
          if (n) out.splice(e.at % n, 1);
          return out;
        case 'change':
          // Keeps the identity, changes the fields: the case a recursion into the item answers.
          if (n) {
            const { address, port } = out[e.at % n]!;
            out[e.at % n] = { ...e.item, address, port };
          }
          return out;
        case 'move':
          if (n) out.splice(e.to % n, 0, ...out.splice(e.from % n, 1));
          return out;
        case 'duplicate':
          if (n) out.splice(e.at % n, 0, structuredClone(out[e.at % n]!));
          return out;
      }
    };
    // Unique addresses mostly (so lists are matched by identity), duplicates now and then.
    const listArb = fc
      .uniqueArray(endpointArb, { selector: (e) => `${e.address}:${e.port}`, maxLength: 12 })
      .chain((before) =>
        fc.array(editArb, { maxLength: 6 }).map((edits) => ({ before, after: edits.reduce(edit, before) })),
      );

    // Random nested values: members whose names need escaping, and lists of named items.
    const keyArb = fc.constantFrom('a', 'b', 'c~d', 'e/f', 'name', 'subset', '');
    const { value: nestedArb } = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.oneof(
          fc.integer({ min: -3, max: 3 }),
          fc.constantFrom('x', 'y', 'z'),
          fc.boolean(),
          fc.constant(null),
        ),
        fc.array(tie('value'), { maxLength: 4 }),
        fc.array(fc.record({ name: fc.constantFrom('p', 'q', 'r', 's'), v: tie('value') }), { maxLength: 4 }),
        fc.dictionary(keyArb, tie('value'), { maxKeys: 4 }),
      ),
    }));

    const resource = (spec: unknown): ViewResource => ({
      apiVersion: API_VERSION,
      kind: 'Thing',
      metadata: { name: 'x', namespace: 'shop' },
      spec,
    });
    const caseArb = fc.oneof(
      listArb.map(({ before, after }) => ({ before: endpoints(before), after: endpoints(after) })),
      fc.tuple(listArb, nestedArb, nestedArb).map(([{ before, after }, x, y]) => ({
        before: resource({ endpoints: before, x }),
        after: resource({ endpoints: after, x: y }),
      })),
      fc.tuple(nestedArb, nestedArb).map(([x, y]) => ({ before: resource(x), after: resource(y) })),
    );

    fc.assert(
      fc.property(caseArb, ({ before, after }) => {
        const { ops, applied, expected } = delta(KEY, before, after);
        expect(applied).toEqual(expected);
        expect(canonicalJson(applied)).toBe(canonicalJson(expected));
        expect(JSON.stringify(diffResources({ [KEY]: before }, { [KEY]: after }, [KEY]))).toBe(
          JSON.stringify(ops),
        );
      }),
      { numRuns: Number(process.env.FEDMESH_PROPERTY_RUNS ?? 300) },
    );
  });

  it('delta - one removal, insertion, flag change or move in a list with identities is always one op', () => {
    const caseArb = fc
      .record({
        n: fc.integer({ min: 2, max: 40 }),
        kind: fc.constantFrom('remove', 'insert', 'flip', 'move'),
        i: fc.nat(),
        j: fc.nat(),
      })
      .filter(({ n, kind, i, j }) => kind !== 'move' || i % n !== j % n);
    fc.assert(
      fc.property(caseArb, ({ n, kind, i, j }) => {
        const before = range(n);
        const after = structuredClone(before);
        if (kind === 'remove') after.splice(i % n, 1);
        if (kind === 'insert') after.splice(i % (n + 1), 0, endpoint(1000));
        if (kind === 'flip') after[i % n]!.healthy = false;
        if (kind === 'move') after.splice(j % n, 0, ...after.splice(i % n, 1));
        const { ops, applied, expected } = delta(KEY, endpoints(before), endpoints(after));
        expect(ops).toHaveLength(1);
        expect(ops[0]!.path).toMatch(/\/spec\/endpoints\/\d+/);
        expect(applied).toEqual(expected);
      }),
      { numRuns: Number(process.env.FEDMESH_PROPERTY_RUNS ?? 300) },
    );
  });

  it('delta - added, removed and unchanged entries cost one op or none', () => {
    const e = endpoints(range(3));
    expect(delta(KEY, undefined, e).ops).toEqual([
      { op: 'add', path: '/ServiceEndpoints~1shop~1payments-eu', value: e },
    ]);
    expect(delta(KEY, e, undefined).ops).toEqual([
      { op: 'remove', path: '/ServiceEndpoints~1shop~1payments-eu' },
    ]);
    expect(delta(KEY, e, structuredClone(e)).ops).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { type CliIo, runCli } from './main.js';

/** A fake hub: records requests and answers with a canned status and body. */
function harness(answer: (url: string, init: RequestInit) => { status: number; body: unknown }) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: { url: string; method: string; auth: string | null; body: unknown }[] = [];
  const io: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    env: { FEDMESH_SERVER: 'http://hub.test:1234/', FEDMESH_TOKEN: 'env-token' },
    readStdin: async () => 'apiVersion: fedmesh.io/v1\nkind: Region\nmetadata: {name: r}\nspec: {}\n',
    fetch: (async (url: string, init: RequestInit) => {
      const headers = new Headers(init.headers);
      calls.push({
        url,
        method: init.method!,
        auth: headers.get('authorization'),
        body: init.body ? JSON.parse(String(init.body)) : undefined,
      });
      const { status, body } = answer(url, init);
      return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch,
  };
  return { io, out: () => out.join(''), err: () => err.join(''), calls };
}

describe('cli commands', () => {
  it('cli - get resolves kind aliases, the namespace and the server from the environment', async () => {
    const h = harness(() => ({
      status: 200,
      body: {
        kind: 'Service',
        apiVersion: 'fedmesh.io/v1',
        metadata: { name: 'p', namespace: 'shop', revision: 1 },
        spec: { ports: [] },
      },
    }));
    expect(await runCli(['get', 'svc', 'p', '-n', 'shop', '-o', 'json'], h.io)).toBe(0);
    expect(h.calls[0]).toMatchObject({
      url: 'http://hub.test:1234/v1/resources/Service/shop/p',
      method: 'GET',
      auth: 'Bearer env-token',
    });
    expect(JSON.parse(h.out()).metadata.name).toBe('p');
  });

  it('cli - --server and --token win over the environment; cluster-scoped kinds use _', async () => {
    const h = harness(() => ({ status: 200, body: { revision: 9 } }));
    expect(
      await runCli(
        ['delete', 'region', 'eu-west', '--server', 'http://other:1', '--token', 'flag-token'],
        h.io,
      ),
    ).toBe(0);
    expect(h.calls[0]).toMatchObject({
      url: 'http://other:1/v1/resources/Region/_/eu-west',
      method: 'DELETE',
      auth: 'Bearer flag-token',
    });
    expect(h.out()).toBe('Region eu-west deleted (revision 9)\n');
  });

  it('cli - an HTTP error prints the server message and field issues and exits 1', async () => {
    const h = harness(() => ({
      status: 400,
      body: {
        error: {
          code: 'invalid',
          message: 'invalid Service manifest: spec.ports.0.port: expected number; spec.x: unknown field',
          issues: [
            { path: 'spec.ports.0.port', message: 'expected number' },
            { path: 'spec.x', message: 'unknown field' },
          ],
        },
      },
    }));
    expect(await runCli(['get', 'service', 'x'], h.io)).toBe(1);
    expect(h.err()).toBe(
      'error: invalid Service manifest: spec.ports.0.port: expected number; spec.x: unknown field (HTTP 400, invalid)\n' +
        '    spec.ports.0.port: expected number\n    spec.x: unknown field\n',
    );
    expect(h.out()).toBe('');
  });

  it('cli - usage errors exit 2 with a hint; --help exits 0', async () => {
    const h = harness(() => ({ status: 200, body: {} }));
    expect(await runCli(['get'], h.io)).toBe(2);
    expect(await runCli(['get', 'gizmo'], h.io)).toBe(2);
    expect(await runCli(['frobnicate'], h.io)).toBe(2);
    expect(await runCli(['get', 'svc', '-o', 'xml'], h.io)).toBe(2);
    expect(await runCli(['get', 'svc', '--bogus'], h.io)).toBe(2);
    expect(await runCli(['apply'], h.io)).toBe(2);
    expect(h.err()).toMatch(/unknown kind gizmo; the kinds are region, service \(svc\)/);
    expect(h.err()).toMatch(/Run fedmeshctl --help for usage/);
    expect(h.calls).toHaveLength(0);
    expect(await runCli(['--help'], h.io)).toBe(0);
    expect(h.out()).toMatch(/^fedmeshctl — manage a fedmesh hub/);
  });

  it('cli - apply reads stdin and sends the documents as one list', async () => {
    const h = harness(() => ({
      status: 200,
      body: {
        dryRun: false,
        summary: { created: 1 },
        items: [{ index: 0, kind: 'Region', namespace: '_', name: 'r', result: 'created', revision: 1 }],
      },
    }));
    expect(await runCli(['apply', '-f', '-'], h.io)).toBe(0);
    expect(h.calls[0]!.url).toBe('http://hub.test:1234/v1/apply');
    expect(h.calls[0]!.body).toEqual({
      items: [{ apiVersion: 'fedmesh.io/v1', kind: 'Region', metadata: { name: 'r' }, spec: {} }],
    });
    expect(h.out()).toBe('stdin#1: Region r created (revision 1)\n1 document: 1 created\n');
  });

  it('cli - a rejected apply prints per-document results to stderr and exits 1', async () => {
    const h = harness(() => ({
      status: 400,
      body: {
        dryRun: false,
        summary: { invalid: 1 },
        items: [
          {
            index: 0,
            kind: 'Region',
            name: 'r',
            result: 'invalid',
            issues: [{ path: 'spec.link', message: 'required' }],
          },
        ],
        error: { code: 'invalid', message: '1 of 1 documents are invalid; nothing was applied' },
      },
    }));
    expect(await runCli(['apply', '-f', '-'], h.io)).toBe(1);
    expect(h.err()).toContain('    spec.link: required');
  });

  it('cli - diff exits 1 when there are differences, 0 when none, 2 on failure', async () => {
    const changed = harness(() => ({
      status: 200,
      body: { dryRun: true, summary: { created: 0, updated: 1 }, items: [] },
    }));
    expect(await runCli(['diff', '-f', '-'], changed.io)).toBe(1);
    expect(changed.calls[0]!.url).toBe('http://hub.test:1234/v1/apply?dryRun=true');
    const same = harness(() => ({
      status: 200,
      body: { dryRun: true, summary: { created: 0, updated: 0, unchanged: 1 }, items: [] },
    }));
    expect(await runCli(['diff', '-f', '-'], same.io)).toBe(0);
    const down = harness(() => ({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'invalid token' } },
    }));
    expect(await runCli(['diff', '-f', '-'], down.io)).toBe(2);
  });

  it('cli - an unreachable hub is reported plainly', async () => {
    const h = harness(() => ({ status: 200, body: {} }));
    h.io.fetch = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as typeof fetch;
    expect(await runCli(['regions'], h.io)).toBe(1);
    expect(h.err()).toBe(
      'error: cannot reach the hub at http://hub.test:1234: connection refused (nothing is listening there)\n' +
        '  the address came from FEDMESH_SERVER; is the hub running there? Or set it with --server URL or ' +
        '`export FEDMESH_SERVER=http://HOST:PORT` (npm run demo prints that line)\n',
    );
  });

  it('cli - with no server given, a refused connection names the default it tried and how to set one', async () => {
    const h = harness(() => ({ status: 200, body: {} }));
    h.io.env = {};
    h.io.fetch = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as typeof fetch;
    expect(await runCli(['get', 'svc'], h.io)).toBe(1);
    expect(h.err()).toContain('cannot reach the hub at http://127.0.0.1:8080: connection refused');
    expect(h.err()).toContain(
      'no server was given, so fedmeshctl tried the default; set it with --server URL',
    );
    expect(h.err()).toContain('export FEDMESH_SERVER=');
    expect(h.err()).not.toContain('ECONNREFUSED');
  });

  it('cli - a server that is not the hub (an HTML page) is said to be one', async () => {
    const h = harness(() => ({ status: 200, body: {} }));
    h.io.fetch = (async () =>
      new Response('<html>hello</html>', {
        status: 404,
        headers: { 'content-type': 'text/html' },
      })) as typeof fetch;
    expect(await runCli(['regions'], h.io)).toBe(1);
    expect(h.err()).toBe(
      'error: the server at http://hub.test:1234 answered GET /v1/regions with HTTP 404 and text/html, ' +
        "not the fedmesh API's JSON\n  is that the hub's admin API address (fedmesh-hub --listen)?\n",
    );
  });
});

describe('cli arguments in our words', () => {
  const run = async (argv: string[], env?: Record<string, string>) => {
    const h = harness(() => ({ status: 200, body: { items: [] } }));
    if (env) h.io.env = env;
    const code = await runCli(argv, h.io);
    return { code, err: h.err(), out: h.out(), calls: h.calls };
  };

  it('cli - mistyped kinds, commands and flags get a did-you-mean', async () => {
    expect((await run(['get', 'servce'])).err).toBe(
      'fedmeshctl: unknown kind servce; did you mean service?\nRun fedmeshctl get --help for usage.\n',
    );
    expect((await run(['get', 'trafficrout'])).err).toContain('did you mean trafficroute?');
    expect((await run(['aplly', '-f', 'x'])).err).toContain('unknown command aplly; did you mean apply?');
    expect((await run(['get', 'svc', '--namspace', 'shop'])).err).toContain(
      'unknown flag --namspace; did you mean --namespace?',
    );
    for (const argv of [['get', 'servce'], ['aplly'], ['get', 'svc', '--namspace', 'x']])
      expect((await run(argv)).code).toBe(2);
  });

  it("cli - a flag without its value says which flag and what it expects, never the parser's advice", async () => {
    const missing = await run(['get', 'svc', '-n']);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe(
      'fedmeshctl: -n needs a value: a namespace, e.g. -n shop\nRun fedmeshctl get --help for usage.\n',
    );
    const swallowed = await run(['get', 'svc', '-n', '-o', 'json']);
    expect(swallowed.err).toContain('-n needs a value: a namespace, e.g. -n shop (found -o instead)');
    const region = await run(['proxies', '--region']);
    expect(region.err).toContain('--region needs a value: a region name, e.g. -r eu-west');
    for (const r of [missing, swallowed, region]) {
      expect(r.err).not.toMatch(/ERR_PARSE_ARGS|argument missing|ambiguous|'--'|Invalid input/);
      expect(r.calls).toHaveLength(0);
    }
    expect((await run(['changes', '--limit', 'ten'])).err).toContain(
      '--limit must be a whole number from 1 to 1000, not "ten"',
    );
    expect((await run(['get', 'svc', '-n', 'Shop_1'])).err).toContain(
      '-n/--namespace "Shop_1" is not a namespace: lowercase letters, digits and "-", at most 63',
    );
    expect((await run(['get', 'svc', 'Pay'])).err).toContain('"Pay" is not a resource name');
    expect((await run(['get', 'svc', '--dry-run=maybe'])).err).toContain(
      '--dry-run takes no value (or =true / =false), not "maybe"',
    );
  });

  it('cli - a flag the command does not use is noted, not silently dropped', async () => {
    const r = await run(['regions', '-n', 'shop']);
    expect(r.code).toBe(0);
    expect(r.err).toBe('fedmeshctl: note: regions does not use -n/--namespace; ignored\n');
  });

  it('cli - --server host:port means http://; a value that is no address is refused naming where it came from', async () => {
    const plain = await run(['regions', '--server', 'hub.test:9000']);
    expect(plain.code).toBe(0);
    expect(plain.calls[0]!.url).toBe('http://hub.test:9000/v1/regions');
    const v6 = await run(['regions', '--server', '[::1]:9000']);
    expect(v6.calls[0]!.url).toBe('http://[::1]:9000/v1/regions');
    const bad = await run(['regions', '--server', 'hub.test:port']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--server "hub.test:port": the port must be a number, not "port"');
    const scheme = await run(['regions'], { FEDMESH_SERVER: 'nats://hub:4222' });
    expect(scheme.err).toContain(
      `FEDMESH_SERVER "nats://hub:4222" uses nats://; the hub's admin API is http:// or https://`,
    );
    for (const r of [bad, scheme]) expect(r.calls).toHaveLength(0);
    expect((await run(['regions', '--server', 'http://h:1/'])).err).not.toContain('ERR_INVALID_URL');
  });

  it('cli - help per command lists its options and examples; the main help fits 100 columns', async () => {
    const h = await run(['help', 'get']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/^fedmeshctl get KIND \[NAME\] \[-n NS\] \[-o FORMAT\] \[-w\]\n/);
    expect(h.out).toContain('-w, --watch');
    expect((await run(['get', '--help'])).out).toBe(h.out);
    const main = await run(['--help']);
    for (const command of ['apply', 'diff', 'preview', 'validate', 'get', 'delete', 'history', 'changes'])
      expect(main.out).toContain(`  ${command} `);
    for (const line of main.out.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
});

describe('cli commands that teach', () => {
  const applied = (items: unknown[] = []) => ({
    status: 200,
    body: { dryRun: false, summary: { created: items.length }, items },
  });

  it('cli - apply gives namespaced manifests without one the namespace of -n; Regions keep none', async () => {
    const h = harness(() => applied());
    h.io.readStdin = async () =>
      'apiVersion: fedmesh.io/v1\nkind: Service\nmetadata: {name: p}\nspec: {ports: []}\n---\n' +
      'apiVersion: fedmesh.io/v1\nkind: Region\nmetadata: {name: r}\nspec: {}\n';
    expect(await runCli(['apply', '-f', '-', '-n', 'shop'], h.io)).toBe(0);
    const sent = (h.calls[0]!.body as { items: { metadata: object }[] }).items;
    expect(sent.map((d) => d.metadata)).toEqual([{ name: 'p', namespace: 'shop' }, { name: 'r' }]);
    // Without -n: FEDMESH_NAMESPACE, else "default", as get and delete do.
    const env = harness(() => applied());
    env.io.readStdin = h.io.readStdin;
    env.io.env = { ...env.io.env, FEDMESH_NAMESPACE: 'tools' };
    await runCli(['diff', '-f', '-'], env.io);
    expect(
      (env.calls[0]!.body as { items: { metadata: { namespace?: string } }[] }).items[0]!.metadata.namespace,
    ).toBe('tools');
  });

  it('cli - apply -n refuses a manifest of another namespace and sends nothing; FEDMESH_NAMESPACE does not', async () => {
    const h = harness(() => applied());
    h.io.readStdin = async () =>
      'apiVersion: fedmesh.io/v1\nkind: Service\nmetadata: {name: p, namespace: shop}\nspec: {ports: []}\n';
    expect(await runCli(['apply', '-f', '-', '-n', 'tools'], h.io)).toBe(1);
    expect(h.err()).toBe(
      'error: -n tools disagrees with the namespace of a manifest; nothing was sent. ' +
        'Drop -n, or metadata.namespace, to choose one:\n    stdin#1: Service shop/p is in namespace shop\n',
    );
    expect(h.calls).toHaveLength(0);
    h.io.env = { ...h.io.env, FEDMESH_NAMESPACE: 'tools' };
    expect(await runCli(['apply', '-f', '-'], h.io)).toBe(0);
    expect(
      (h.calls[0]!.body as { items: { metadata: { namespace: string } }[] }).items[0]!.metadata.namespace,
    ).toBe('shop');
  });

  it('cli - changes --limit asks for the newest and prints them oldest first; --since pages forward', async () => {
    const entry = (revision: number) => ({
      revision,
      time: `t${revision}`,
      actor: 'ops',
      role: 'admin',
      op: 'update',
      kind: 'Service',
      namespace: 'shop',
      name: `s${revision}`,
    });
    const h = harness((url) =>
      url.includes('order=desc')
        ? { status: 200, body: { items: [entry(9), entry(8), entry(7)], next: 9 } }
        : { status: 200, body: { items: [entry(5), entry(6)], next: 6 } },
    );
    expect(await runCli(['changes', '--limit', '3'], h.io)).toBe(0);
    expect(h.calls[0]!.url).toBe('http://hub.test:1234/v1/changes?limit=3&order=desc');
    expect(
      h
        .out()
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['7', '8', '9']);
    await runCli(['changes', '--since', '4', '--limit', '2'], h.io);
    expect(h.calls[1]!.url).toBe('http://hub.test:1234/v1/changes?since=4&limit=2');
  });

  it('cli - a not-found name looked up in the default namespace says so', async () => {
    const h = harness(() => ({
      status: 404,
      body: { error: { code: 'not_found', message: 'Service default/p not found' } },
    }));
    h.io.env = { FEDMESH_SERVER: 'http://hub.test:1234' };
    expect(await runCli(['get', 'svc', 'p'], h.io)).toBe(1);
    expect(h.err()).toBe(
      'error: Service default/p not found (HTTP 404, not_found)\n' +
        '  no -n was given, so fedmeshctl looked in namespace "default"; fedmeshctl get service lists every namespace\n',
    );
  });

  it('cli - a 401 says how to give a token', async () => {
    const h = harness(() => ({
      status: 401,
      body: {
        error: { code: 'unauthorized', message: 'missing bearer token (Authorization: Bearer <token>)' },
      },
    }));
    h.io.env = { FEDMESH_SERVER: 'http://hub.test:1234' };
    expect(await runCli(['regions'], h.io)).toBe(1);
    expect(h.err()).toContain(
      '  the hub wants a token: give it with --token TOKEN or `export FEDMESH_TOKEN=…`\n',
    );
  });

  it('cli - validate checks offline with the shared schemas: no request, field paths, exit 1', async () => {
    const h = harness(() => ({ status: 500, body: {} }));
    h.io.env = { FEDMESH_SERVER: 'not a url at all' };
    h.io.readStdin = async () =>
      'apiVersion: fedmesh.io/v1\nkind: Service\nmetadata: {name: p}\nspec: {ports: [{name: http, port: 99999, protocol: http}]}\n---\n' +
      'apiVersion: fedmesh.io/v1\nkind: Region\nmetadata: {name: r}\nspec: {}\n---\n' +
      'apiVersion: fedmesh.io/v1\nkind: Region\nmetadata: {name: r}\nspec: {}\n';
    expect(await runCli(['validate', '-f', '-', '-n', 'shop'], h.io)).toBe(1);
    expect(h.calls).toHaveLength(0);
    expect(h.err()).toMatch(
      /^stdin#1: Service shop\/p invalid\n {4}spec\.ports\.0\.port: .+\nstdin#2: Region r valid\nstdin#3: Region r invalid\n {4}metadata\.name: duplicates stdin#2/,
    );
    expect(h.err()).toMatch(/3 documents: 1 valid, 2 invalid\n$/);
    const good = harness(() => ({ status: 500, body: {} }));
    expect(await runCli(['validate', '-f', '-'], good.io)).toBe(0);
    expect(good.out()).toBe('stdin#1: Region r valid\n1 document: 1 valid\n');
  });

  it('cli - version prints the client and the hub, and only notes a hub it cannot reach', async () => {
    const h = harness(() => ({ status: 200, body: { status: 'ok', build: { version: '9.9.9' } } }));
    expect(await runCli(['version'], h.io)).toBe(0);
    expect(h.calls[0]!.url).toBe('http://hub.test:1234/healthz');
    expect(h.out()).toMatch(
      /^client: fedmeshctl \d+\.\d+\.\d+\nserver: fedmesh-hub 9\.9\.9 at http:\/\/hub\.test:1234\n$/,
    );
    const down = harness(() => ({ status: 200, body: {} }));
    down.io.fetch = (async () => {
      throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    }) as typeof fetch;
    expect(await runCli(['version'], down.io)).toBe(0);
    expect(down.out()).toMatch(/^client: fedmeshctl \S+\n$/);
    expect(down.err()).toMatch(
      /^server: not reachable: cannot reach the hub at http:\/\/hub\.test:1234: connection refused/,
    );
  });

  it('cli - preview asks every region and prints ops, bytes and the time at its budget', async () => {
    const summary = (region: string, budget: number | null) => ({
      region,
      budget: { bytesPerSecond: budget, burstBytes: null },
      line: { budgetBytesPerSecond: budget },
    });
    const h = harness((url) => {
      if (url.endsWith('/v1/regions'))
        return { status: 200, body: { items: [summary('eu-west', 1024), summary('us-east', null)] } };
      const region = /regions\/([^/]+)\/preview/.exec(url)![1]!;
      const ops =
        region === 'eu-west' ? [{ op: 'add', path: '/Service~1shop~1p', value: { kind: 'Service' } }] : [];
      return {
        status: 200,
        body: {
          region,
          fromHash: 'a',
          toHash: 'b',
          ops,
          codec: 'br',
          rawBytes: 600,
          encodedBytes: ops.length ? 512 : 0,
          messages: ops.length,
        },
      };
    });
    h.io.readStdin = async () =>
      'apiVersion: fedmesh.io/v1\nkind: Service\nmetadata: {name: p}\nspec: {ports: []}\n';
    expect(await runCli(['preview', '-f', '-', '-n', 'shop'], h.io)).toBe(0);
    expect(h.calls.map((c) => `${c.method} ${c.url.replace('http://hub.test:1234', '')}`)).toEqual([
      'GET /v1/regions',
      'POST /v1/regions/eu-west/preview',
      'POST /v1/regions/us-east/preview',
    ]);
    expect((h.calls[1]!.body as { items: { metadata: object }[] }).items[0]!.metadata).toEqual({
      name: 'p',
      namespace: 'shop',
    });
    expect(h.out()).toBe(
      'eu-west: 1 op, 512B (br, 600B raw) in 1 message, 0.5s at its budget of 1KiB/s\n' +
        '    add Service/shop/p: {"kind":"Service"}\n' +
        'us-east: nothing to send (the change is outside its view)\n',
    );
  });

  it('cli - preview -r asks one region; invalid manifests are named by file', async () => {
    const h = harness((url) =>
      url.endsWith('/v1/regions/eu-west')
        ? {
            status: 200,
            body: {
              region: 'eu-west',
              budget: { bytesPerSecond: null },
              line: { budgetBytesPerSecond: null },
            },
          }
        : {
            status: 400,
            body: {
              error: {
                code: 'invalid',
                message: 'invalid manifests',
                issues: [{ path: 'documents.0.spec.bogus', message: 'unknown field' }],
              },
            },
          },
    );
    expect(await runCli(['preview', '-f', '-', '-r', 'eu-west'], h.io)).toBe(1);
    expect(h.err()).toBe('error: invalid manifests (HTTP 400)\n    stdin#1: spec.bogus: unknown field\n');
  });

  it('cli - get --watch prints, follows the audit log, reprints on a change of its own and ends on Ctrl-C', async () => {
    const svc = (port: number) => ({
      apiVersion: 'fedmesh.io/v1',
      kind: 'Service',
      metadata: { name: 'p', namespace: 'shop', revision: port },
      spec: { ports: [{ name: 'http', port, protocol: 'http' }] },
    });
    let port = 80;
    let polls = 0;
    const change = (revision: number, kind: string, name: string) => ({
      revision,
      time: 't',
      actor: 'ops',
      role: 'admin',
      op: 'update',
      kind,
      namespace: 'shop',
      name,
    });
    const h = harness((url) => {
      if (url.includes('order=desc')) return { status: 200, body: { items: [], next: 5 } };
      if (url.includes('/v1/changes?since=')) {
        polls++;
        // Poll 1: someone else's change; poll 2: ours; then quiet.
        if (polls === 1) return { status: 200, body: { items: [change(6, 'Region', 'x')], next: 6 } };
        if (polls === 2) {
          port = 81;
          return { status: 200, body: { items: [change(7, 'Service', 'p')], next: 7 } };
        }
        return { status: 200, body: { items: [], next: 7 } };
      }
      return { status: 200, body: { items: [svc(port)] } };
    });
    const ctrlC = new AbortController();
    h.io.signal = ctrlC.signal;
    h.io.watchIntervalMs = 5;
    const stdout = h.io.stdout;
    h.io.stdout = (t) => {
      stdout(t);
      if (t.includes('http:81/http')) setTimeout(() => ctrlC.abort(), 20);
    };
    expect(await runCli(['get', 'svc', '-n', 'shop', '--watch'], h.io)).toBe(0);
    const out = h.out();
    expect(out.match(/^NAMESPACE/gm)).toHaveLength(2);
    expect(out).toContain('\nrevision 7: update Service shop/p by ops\nNAMESPACE');
    expect(out).not.toContain('Region');
    expect(h.calls.filter((c) => c.url.includes('/v1/resources?')).map((c) => c.url)).toEqual([
      'http://hub.test:1234/v1/resources?kind=Service&namespace=shop',
      'http://hub.test:1234/v1/resources?kind=Service&namespace=shop',
    ]);
    expect(polls).toBeGreaterThanOrEqual(3);
  });
});

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
    expect(h.err()).toMatch(/unknown kind "gizmo"/);
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
    expect(h.err()).toBe('error: cannot reach the hub at http://hub.test:1234: ECONNREFUSED\n');
  });
});

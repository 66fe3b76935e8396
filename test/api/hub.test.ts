import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningHub } from '@fedmesh/hub';
import { API_VERSION, sampleMesh } from '@fedmesh/shared';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { hubClient, startTestHub } from '../support/fedmesh.js';
import { type NatsServerHandle, printLogsOnFailure, startNatsServer } from '../support/nats.js';

const ADMIN = 'ops-admin-token-0123456789';
const READER = 'dashboard-token-0123456789';
/** Stored in the tokens file only as its SHA-256. */
const HASHED = 'ci-pipeline-token-0123456789';

let nats: NatsServerHandle;
let hub: RunningHub;
let dir: string;
let tokensFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fedmesh-api-'));
  tokensFile = join(dir, 'tokens.yaml');
  writeFileSync(
    tokensFile,
    `tokens:\n  - {token: ${ADMIN}, role: admin, name: ops}\n  - {token: ${READER}, role: read-only}\n` +
      `  - {sha256: ${createHash('sha256').update(HASHED).digest('hex').toUpperCase()}, role: admin, name: ci}\n`,
  );
  nats = await startNatsServer();
  hub = await startTestHub(nats.url, { tokensFile });
});
afterAll(async () => {
  await hub?.stop();
  await nats?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  printLogsOnFailure(nats);
});

const service = (name: string) => ({
  apiVersion: API_VERSION,
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: { ports: [{ name: 'http', port: 8080, protocol: 'http' }] },
});

describe('real hub on a real nats-server', () => {
  it('api - 20 concurrent read-modify-write writers with If-Match and retry on 412 all land', async () => {
    const api = hubClient(hub.url, ADMIN);
    expect((await api.put('Service', 'shop', 'counter', service('counter'))).status).toBe(201);
    let conflicts = 0;
    const writer = async (i: number) => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const got = await api.get('Service', 'shop', 'counter');
        expect(got.status).toBe(200);
        const body = got.body;
        body.metadata.labels = { ...body.metadata.labels, [`writer-${i}`]: 'done' };
        delete body.metadata.revision;
        const put = await api.put('Service', 'shop', 'counter', body, {
          'if-match': got.headers.get('etag')!,
        });
        if (put.status === 200) return attempt;
        expect(put.status, JSON.stringify(put.body)).toBe(412);
        conflicts++;
      }
      throw new Error(`writer ${i} never landed`);
    };
    await Promise.all(Array.from({ length: 20 }, (_, i) => writer(i)));
    const final = await api.get('Service', 'shop', 'counter');
    expect(Object.keys(final.body.metadata.labels).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `writer-${i}`).sort(),
    );
    // They really did collide: optimistic concurrency was exercised, not bypassed.
    expect(conflicts).toBeGreaterThan(0);
    const history = await api.call('GET', '/v1/resources/Service/shop/counter/history');
    expect(history.body.items).toHaveLength(21);
    expect(new Set(history.body.items.map((h: { actor: string }) => h.actor))).toEqual(new Set(['ops']));
  });

  it('api - the audit log pages through many writes in revision order without gaps', async () => {
    const api = hubClient(hub.url, ADMIN);
    for (let i = 0; i < 90; i++) {
      const res = await api.put('Service', 'shop', `svc-${i % 30}`, {
        ...service(`svc-${i % 30}`),
        metadata: { name: `svc-${i % 30}`, namespace: 'shop', labels: { round: String(i) } },
      });
      expect(res.status).toBeLessThan(300);
    }
    const seen: number[] = [];
    let since = 0;
    for (;;) {
      const page = await api.call('GET', `/v1/changes?since=${since}&limit=40`);
      expect(page.status).toBe(200);
      if (page.body.items.length === 0) break;
      seen.push(...page.body.items.map((e: { revision: number }) => e.revision));
      since = page.body.next;
    }
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(1 + 20 + 90);
    const mid = await api.call('GET', `/v1/changes?since=${seen[50]}&limit=5`);
    expect(mid.body.items.map((e: { revision: number }) => e.revision)).toEqual(seen.slice(51, 56));
    // The newest first, from the stream's end: the last 5, and the last 3 after a cursor.
    const newest = await api.call('GET', '/v1/changes?limit=5&order=desc');
    expect(newest.body.items.map((e: { revision: number }) => e.revision)).toEqual(seen.slice(-5).reverse());
    expect(newest.body.next).toBe(seen.at(-1));
    const recent = await api.call('GET', `/v1/changes?since=${seen.at(-4)}&limit=10&order=desc`);
    expect(recent.body.items.map((e: { revision: number }) => e.revision)).toEqual(seen.slice(-3).reverse());
    // One resource's newest writes, through the subject filter.
    const history = await api.call('GET', '/v1/resources/Service/shop/svc-7/history');
    expect(history.body.items.map((h: { action: string; actor: string }) => [h.action, h.actor])).toEqual([
      ['create', 'ops'],
      ['update', 'ops'],
      ['update', 'ops'],
    ]);
  });

  it('api - the audit log survives a hub restart, with actors from the tokens file', async () => {
    const api = hubClient(hub.url, ADMIN);
    const res = await api.call('POST', '/v1/apply', sampleMesh());
    expect(res.status).toBe(200);
    const before = (await api.call('GET', '/v1/changes?limit=1000')).body.items;
    await hub.stop();
    hub = await startTestHub(nats.url, { tokensFile });
    const after = await hubClient(hub.url, READER).call('GET', '/v1/changes?limit=1000');
    expect(after.status).toBe(200);
    expect(after.body.items).toEqual(before);
    expect(after.body.items.at(-1)).toMatchObject({
      actor: 'ops',
      role: 'admin',
      op: 'create',
      kind: 'AuthorizationPolicy',
    });
    // The unnamed token gets a stable name that does not reveal it.
    const denied = await hubClient(hub.url, READER).put('Service', 'shop', 'x', service('x'));
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toMatch(/^token "token-[0-9a-f]{8}" is read-only$/);
  });

  it('api - a token stored as its SHA-256 authenticates; the hash itself, or a near miss, does not', async () => {
    const put = (token: string) =>
      hubClient(hub.url, token).put('Service', 'shop', 'hashed', service('hashed'));
    expect((await put(HASHED)).status).toBeLessThan(300);
    expect((await put(createHash('sha256').update(HASHED).digest('hex'))).status).toBe(401);
    expect((await put(`${HASHED}x`)).status).toBe(401);
    expect((await put(HASHED.slice(0, -1))).status).toBe(401);
    const changes = (await hubClient(hub.url, READER).call('GET', '/v1/changes?limit=1000')).body.items;
    expect(changes.at(-1)).toMatchObject({ actor: 'ci', name: 'hashed' });
  });
});

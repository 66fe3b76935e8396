import type { Operation } from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { type EnvelopeMeta, MessageType } from '../wire/envelope.js';
import { applyPayload, emptyView, mirror } from './apply.js';
import { viewHash } from './hash.js';
import type { ViewResource } from './types.js';

const svc = (name: string, port: number): ViewResource => ({
  apiVersion: 'fedmesh.io/v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: { ports: [{ name: 'http', port, protocol: 'http' }] },
});

const meta = (type: EnvelopeMeta['type'], from: number, to: number, toHash: string): EnvelopeMeta => ({
  type,
  region: 'eu-west',
  fromVersion: from,
  toVersion: to,
  toHash,
  codec: 'identity',
  chunk: { index: 1, count: 1 },
  rawSize: 1,
});

const base = { 'Service/shop/a': svc('a', 80), 'Service/shop/b': svc('b', 81) };
const held = { region: 'eu-west', version: 3, hash: viewHash(base), resources: base };

describe('applyPayload', () => {
  it('apply - a delta is applied, verified, and leaves the held view untouched', () => {
    const ops: Operation[] = [
      { op: 'replace', path: '/Service~1shop~1a/spec/ports/0/port', value: 8080 },
      { op: 'add', path: '/Service~1shop~1c', value: svc('c', 82) },
      { op: 'remove', path: '/Service~1shop~1b' },
    ];
    const expected = { 'Service/shop/a': svc('a', 8080), 'Service/shop/c': svc('c', 82) };
    const cache = mirror(held.resources);
    const out = applyPayload(held, meta(MessageType.Delta, 3, 5, viewHash(expected)), { ops }, cache);
    expect(out).toEqual({
      kind: 'applied',
      view: { region: 'eu-west', version: 5, hash: viewHash(expected), resources: expected },
    });
    expect(held.resources['Service/shop/a']).toEqual(svc('a', 80));
    expect(cache.hash()).toBe(viewHash(expected));
  });

  it('apply - a delta whose result does not match the announced hash is rejected whole and the cache rolls back', () => {
    const cache = mirror(held.resources);
    const ops: Operation[] = [{ op: 'replace', path: '/Service~1shop~1a/spec/ports/0/port', value: 1 }];
    expect(() => applyPayload(held, meta(MessageType.Delta, 3, 4, 'f'.repeat(64)), { ops }, cache)).toThrow(
      expect.objectContaining({ code: 'hash_mismatch' }),
    );
    expect(cache.hash()).toBe(held.hash);
    expect(held.resources['Service/shop/a']).toEqual(svc('a', 80));
  });

  it('apply - moves and copies between entries touch both and verify', () => {
    const ops: Operation[] = [{ op: 'copy', from: '/Service~1shop~1a/spec', path: '/Service~1shop~1b/spec' }];
    const expected = {
      'Service/shop/a': svc('a', 80),
      'Service/shop/b': { ...svc('b', 0), spec: svc('a', 80).spec },
    };
    const cache = mirror(held.resources);
    const out = applyPayload(held, meta(MessageType.Delta, 3, 4, viewHash(expected)), { ops }, cache);
    expect(out.kind === 'applied' && out.view.resources).toEqual(expected);
  });

  it('apply - a delta from another version is a gap; one already held is skipped', () => {
    expect(() => applyPayload(held, meta(MessageType.Delta, 2, 4, held.hash), { ops: [] })).toThrow(
      expect.objectContaining({ code: 'version_gap' }),
    );
    expect(applyPayload(held, meta(MessageType.Delta, 2, 3, held.hash), { ops: [] }).kind).toBe('skipped');
    expect(applyPayload(held, meta(MessageType.Snapshot, 0, 2, held.hash), { resources: {} }).kind).toBe(
      'skipped',
    );
  });

  it('apply - ops that do not apply and payloads without ops are decode failures', () => {
    const bad: Operation[] = [{ op: 'replace', path: '/Service~1shop~1zzz/spec', value: 1 }];
    expect(() => applyPayload(held, meta(MessageType.Delta, 3, 4, held.hash), { ops: bad })).toThrow(
      expect.objectContaining({ code: 'decode_failed' }),
    );
    expect(() => applyPayload(held, meta(MessageType.Delta, 3, 4, held.hash), { nope: 1 })).toThrow(
      expect.objectContaining({ code: 'decode_failed' }),
    );
  });

  it('apply - a snapshot replaces the view and resets the cache to it', () => {
    const cache = mirror(held.resources);
    const next = { 'Service/shop/z': svc('z', 90) };
    const out = applyPayload(
      held,
      meta(MessageType.Snapshot, 0, 9, viewHash(next)),
      { resources: next },
      cache,
    );
    expect(out.kind === 'applied' && out.view.version).toBe(9);
    expect(cache.hash()).toBe(viewHash(next));
    // A snapshot that does not match its announced hash is rejected like a delta.
    expect(() =>
      applyPayload(emptyView('eu-west'), meta(MessageType.Snapshot, 0, 1, 'e'.repeat(64)), {
        resources: next,
      }),
    ).toThrow(expect.objectContaining({ code: 'hash_mismatch' }));
  });
});

import { describe, expect, it } from 'vitest';
import { Codec } from '../codec.js';
import { decodeBody, encodeBody } from './envelope.js';
import { decodeUrgent, encodeUrgent } from './urgent.js';

const ENTRIES = {
  'ServiceEndpoints/shop/payments-eu-west': {
    apiVersion: 'fedmesh.io/v1',
    kind: 'ServiceEndpoints',
    metadata: { name: 'payments-eu-west', namespace: 'shop' },
    spec: { service: 'payments', region: 'eu-west', endpoints: [{ address: '10.0.0.1', port: 8443 }] },
  },
  'AuthorizationPolicy/shop/deny-all': null,
};

describe('urgent messages', () => {
  it('wire - an urgent message has fixed bytes: the golden vector of docs/protocol.md', async () => {
    const body = await encodeUrgent(
      'eu-west',
      { fromVersion: 41, toVersion: 42, entries: ENTRIES },
      Codec.Brotli,
    );
    // Magic, flags 0x06 (urgent, br), from 41, to 42, the payload's SHA-256, raw size 308.
    expect(Buffer.from(body.subarray(0, 38)).toString('hex')).toBe(
      'f206292a8bcffc1f557ace5e6fa5d02f05014af59898a8c49a4e2a97874a3d5e46661b0bb402',
    );
    expect(body.byteLength).toBe(227);
    expect(await decodeUrgent('eu-west', body)).toEqual({ fromVersion: 41, toVersion: 42, entries: ENTRIES });
  });

  it('wire - an urgent message that was altered, or is not one, is refused whole', async () => {
    const body = await encodeUrgent(
      'eu-west',
      { fromVersion: 1, toVersion: 2, entries: ENTRIES },
      Codec.Brotli,
    );
    const altered = Uint8Array.from(body);
    altered[10]! ^= 0x01; // inside the digest: the payload no longer matches it
    await expect(decodeUrgent('eu-west', altered)).rejects.toThrow(/digest does not match/);
    const { meta, payload } = decodeBody('eu-west', body);
    const asDelta = encodeBody({ ...meta, type: 'delta' }, payload);
    await expect(decodeUrgent('eu-west', asDelta)).rejects.toThrow(/a delta on the urgent subject/);
    const lying = encodeBody({ ...meta, rawSize: meta.rawSize + 1 }, payload);
    await expect(decodeUrgent('eu-west', lying)).rejects.toThrow(/decodes to/);
  });
});

import { describe, expect, it } from 'vitest';
import { type EnvelopeMeta, MessageType, messageId, metaFromHeaders, metaToHeaders } from './envelope.js';

// Golden vectors of docs/protocol.md: a hub and agents of different builds must agree on these bytes.
const HASH = '19dc1a8c5061846149aefd3762af623d76100d148401a40b6a7b56bc0ef02f44';
const delta: EnvelopeMeta = {
  type: MessageType.Delta,
  region: 'eu-west',
  fromVersion: 41,
  toVersion: 42,
  toHash: HASH,
  codec: 'br',
  chunk: { index: 1, count: 1 },
  rawSize: 180,
};

describe('envelope', () => {
  it('envelope - message ids are the documented ones', () => {
    expect(messageId(delta)).toBe('eu-west:42:41');
    expect(messageId({ ...delta, fromVersion: 0 })).toBe('eu-west:42');
    expect(
      messageId({ ...delta, type: MessageType.Snapshot, fromVersion: 0, chunk: { index: 3, count: 5 } }),
    ).toBe('eu-west:42:s:3/5');
  });

  it('envelope - headers are the documented ones and read back to the same meta', () => {
    const headers = metaToHeaders(delta);
    expect(headers).toEqual({
      'Fedmesh-Type': 'delta',
      'Fedmesh-Region': 'eu-west',
      'Fedmesh-From-Version': '41',
      'Fedmesh-To-Version': '42',
      'Fedmesh-To-Hash': HASH,
      'Fedmesh-Codec': 'br',
      'Fedmesh-Chunk': '1/1',
      'Fedmesh-Raw-Size': '180',
    });
    expect(metaFromHeaders((name) => headers[name as keyof typeof headers])).toEqual(delta);
  });

  it('envelope - a malformed header is a decode error naming it', () => {
    const headers: Record<string, string> = { ...metaToHeaders(delta), 'Fedmesh-Chunk': '6/5' };
    expect(() => metaFromHeaders((name) => headers[name])).toThrow(/Fedmesh-Chunk="6\/5"/);
  });
});

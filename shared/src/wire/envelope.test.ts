import { describe, expect, it } from 'vitest';
import {
  decodeBody,
  type EnvelopeMeta,
  encodeBody,
  encodeEnvelope,
  MessageType,
  messageId,
} from './envelope.js';

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
const chunk: EnvelopeMeta = {
  type: MessageType.Snapshot,
  region: 'eu-west',
  fromVersion: 0,
  toVersion: 300,
  toHash: HASH,
  codec: 'br',
  chunk: { index: 3, count: 5 },
  rawSize: 4_718_592,
};
const GOLDEN = {
  delta: `f204292a${HASH}b401`,
  chunk: `f215ac02${HASH}03058080a002`,
};

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('envelope', () => {
  it('envelope - a delta and a snapshot chunk encode to the golden bytes', () => {
    expect(hex(encodeEnvelope(delta))).toBe(GOLDEN.delta);
    expect(hex(encodeEnvelope(chunk))).toBe(GOLDEN.chunk);
    expect(encodeEnvelope(delta).byteLength).toBe(38);
  });

  it('envelope - the golden bytes decode to the same meta, the rest of the body is the payload', () => {
    const payload = Buffer.from('payload');
    for (const [meta, golden] of [
      [delta, GOLDEN.delta],
      [chunk, GOLDEN.chunk],
    ] as const) {
      const body = Buffer.concat([Buffer.from(golden, 'hex'), payload]);
      const out = decodeBody('eu-west', body);
      expect(out.meta).toEqual(meta);
      expect(Buffer.from(out.payload).toString()).toBe('payload');
      expect(hex(encodeBody(meta, payload))).toBe(hex(body));
    }
  });

  it('envelope - message ids are the documented ones, and tell regions, versions and chunks apart', () => {
    expect(messageId(delta)).toBe('AHdTQqAAiMDR');
    expect(messageId({ ...delta, fromVersion: 0 })).toBe('wqBtHl-LXjBQ');
    expect(messageId(chunk)).toBe('Oiek-lx6FL0U');
    const ids = new Set([
      messageId(delta),
      messageId({ ...delta, region: 'us-east' }),
      messageId({ ...delta, toVersion: 43 }),
      messageId({ ...chunk, chunk: { index: 4, count: 5 } }),
      messageId(chunk),
    ]);
    expect(ids.size).toBe(5);
  });

  it('envelope - large versions and sizes round-trip (varints up to 2^53)', () => {
    const big = { ...delta, fromVersion: 2 ** 40, toVersion: Number.MAX_SAFE_INTEGER, rawSize: 2 ** 33 };
    expect(decodeBody('eu-west', encodeBody(big, new Uint8Array())).meta).toEqual(big);
  });

  it('envelope - anything malformed is a decode error that says what', () => {
    const good = Buffer.from(GOLDEN.delta, 'hex');
    const cases: [Uint8Array, RegExp][] = [
      [Buffer.from('{"ops":[]}'), /not a fedmesh wire v2 envelope/],
      [good.subarray(0, 10), /ends inside the view hash/],
      [Buffer.concat([Buffer.from([0xf2, 0x40]), good.subarray(2)]), /reserved flag bits/],
      [Buffer.concat([Buffer.from([0xf2, 0x24]), good.subarray(2)]), /ends inside the signature/],
      [Buffer.concat([Buffer.from([0xf2, 0x0c]), good.subarray(2)]), /codec 3/],
      [Buffer.from([0xf2, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), /varint/],
      [Buffer.concat([Buffer.from(`f21102${HASH}0605`, 'hex')]), /chunk 6\/5/],
      [new Uint8Array(), /ends inside the magic/],
    ];
    for (const [body, message] of cases) {
      expect(() => decodeBody('eu-west', body)).toThrow(message);
      expect(() => decodeBody('eu-west', body)).toThrow(expect.objectContaining({ code: 'decode_failed' }));
    }
  });
});

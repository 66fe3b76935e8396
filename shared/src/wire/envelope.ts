import { createHash } from 'node:crypto';
import type { Operation } from 'fast-json-patch';
import { ErrorCode, FedmeshError } from '../errors.js';
import type { ViewResource } from '../view/types.js';
import {
  type EnvelopeSignature,
  KEY_ID_BYTES,
  SIGNATURE_BYTES,
  type SigningKey,
  signedBytes,
} from './signing.js';

/**
 * The sync envelope, wire v2: what an agent reads before it decompresses anything, as a binary
 * prefix of the message body (docs/protocol.md, "The envelope"). NATS text headers cost ~300
 * bytes a message, most of a small delta's bytes on the line; this prefix is ~45. The region
 * is not in it (it is the subject's last token), the hash is its 32 bytes, numbers are varints.
 *
 *   0      0xF2                                   magic: fedmesh wire 2
 *   1      flags   bits 0–1 type (0 delta, 1 snapshot, 2 urgent), bits 2–3 codec (0 identity, 1 br,
 *                  2 gzip), bit 4 chunked, bit 5 signed, bits 6–7 reserved (0; a reader refuses them set)
 *   …      from    varint, deltas and urgent messages only (a snapshot starts from 0)
 *   …      to      varint
 *   …      hash    32 bytes, the v2 view hash after the message (urgent: the payload's SHA-256)
 *   …      i, n    varints, chunked messages only (1 ≤ i ≤ n, n ≥ 2)
 *   …      raw     varint, decoded size of the whole payload
 *   …      key id  8 bytes, signed messages only: which hub key signed it
 *   …      sig     64 bytes, signed messages only: Ed25519 over region, envelope up to the key id
 *                  and the payload's SHA-256 (signing.ts)
 *   …      payload the codec's bytes (of one chunk)
 * Varints are unsigned LEB128, at most 8 bytes (values below 2^53).
 */
export const WIRE_MAGIC = 0xf2;

/**
 * Deltas and snapshots make the ordered chain on `fedmesh.sync.<region>`; urgent messages are the
 * provisional overlay on `fedmesh.urgent.<region>` (docs/protocol.md, "The urgent lane").
 */
export const MessageType = { Snapshot: 'snapshot', Delta: 'delta', Urgent: 'urgent' } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Decoded payload of a snapshot: the whole resources map of the view. */
export type SnapshotPayload = { resources: Record<string, ViewResource> };
/** Decoded payload of a delta: RFC 6902 ops against the `resources` map. */
export type DeltaPayload = { ops: Operation[] };
/** Decoded payload of an urgent message: view entries as they will be at `toVersion` (null: gone). */
export type UrgentPayload = { entries: Record<string, ViewResource | null> };

export interface EnvelopeMeta {
  type: MessageType;
  /** From the subject, not the envelope. */
  region: string;
  fromVersion: number;
  toVersion: number;
  /** Lowercase hex of the 32-byte v2 view hash. */
  toHash: string;
  codec: string;
  chunk: { index: number; count: number };
  rawSize: number;
  /** Hex id of the key that signed the message; absent on an unsigned one. */
  keyId?: string;
}

const CODEC_BITS: Record<string, number> = { identity: 0, br: 1, gzip: 2 };
const CODEC_NAMES = ['identity', 'br', 'gzip'] as const;
const TYPE_BITS = { delta: 0, snapshot: 1, urgent: 2 } as const;
const TYPE_NAMES = [MessageType.Delta, MessageType.Snapshot, MessageType.Urgent] as const;
const CHUNKED = 0x10;
const SIGNED = 0x20;
const RESERVED = 0xc0;

/** The envelope's bytes for `meta`, up to the key id (`signed` sets its flag). */
export function encodeEnvelope(meta: EnvelopeMeta, signed = false): Uint8Array {
  const codec = CODEC_BITS[meta.codec];
  if (codec === undefined) throw new TypeError(`unknown codec ${meta.codec}`);
  if (!/^[0-9a-f]{64}$/.test(meta.toHash)) throw new TypeError(`bad view hash ${meta.toHash}`);
  const chunked = meta.chunk.count > 1;
  const out: number[] = [
    WIRE_MAGIC,
    TYPE_BITS[meta.type] | (codec << 2) | (chunked ? CHUNKED : 0) | (signed ? SIGNED : 0),
  ];
  if (meta.type !== MessageType.Snapshot) pushVarint(out, meta.fromVersion);
  pushVarint(out, meta.toVersion);
  out.push(...Buffer.from(meta.toHash, 'hex'));
  if (chunked) {
    pushVarint(out, meta.chunk.index);
    pushVarint(out, meta.chunk.count);
  }
  pushVarint(out, meta.rawSize);
  return Uint8Array.from(out);
}

/** A message body: the envelope (signed by `key` when given), then the payload. */
export function encodeBody(meta: EnvelopeMeta, payload: Uint8Array, key?: SigningKey): Uint8Array {
  const env = encodeEnvelope(meta, key !== undefined);
  const sig = key
    ? Buffer.concat([Buffer.from(key.keyId, 'hex'), key.sign(signedBytes(meta.region, env, payload))])
    : undefined;
  const head = sig ? env.byteLength + sig.byteLength : env.byteLength;
  const body = new Uint8Array(head + payload.byteLength);
  body.set(env, 0);
  if (sig) body.set(sig, env.byteLength);
  body.set(payload, head);
  return body;
}

/**
 * Reads the envelope at the start of a message body on `region`'s subject. Anything malformed is
 * a `decode_failed` error naming what; nothing of the payload is looked at.
 */
export function decodeBody(
  region: string,
  body: Uint8Array,
): { meta: EnvelopeMeta; payload: Uint8Array; signature?: EnvelopeSignature } {
  let at = 0;
  const fail = (what: string): never => {
    throw new FedmeshError(ErrorCode.DecodeFailed, `bad sync message: ${what}`);
  };
  const byte = (what: string): number =>
    at < body.byteLength ? body[at++]! : fail(`ends inside the ${what}`);
  const varint = (what: string): number => {
    let n = 0;
    for (let i = 0, scale = 1; i < 8; i++, scale *= 128) {
      const b = byte(what);
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) break;
        return n;
      }
    }
    return fail(`${what} is not a varint below 2^53`);
  };
  if (byte('magic') !== WIRE_MAGIC) fail('not a fedmesh wire v2 envelope (first byte is not 0xF2)');
  const flags = byte('flags');
  if (flags & RESERVED) fail(`reserved flag bits set (0x${flags.toString(16)})`);
  const type = TYPE_NAMES[flags & 0x03] ?? fail(`message type ${flags & 0x03}`);
  const codec = CODEC_NAMES[(flags >> 2) & 0x03] ?? fail(`codec ${(flags >> 2) & 0x03}`);
  const fromVersion = type !== MessageType.Snapshot ? varint('from-version') : 0;
  const toVersion = varint('to-version');
  if (at + 32 > body.byteLength) fail('ends inside the view hash');
  const toHash = Buffer.from(body.buffer, body.byteOffset + at, 32).toString('hex');
  at += 32;
  let chunk = { index: 1, count: 1 };
  if (flags & CHUNKED) {
    chunk = { index: varint('chunk index'), count: varint('chunk count') };
    if (chunk.count < 2 || chunk.index < 1 || chunk.index > chunk.count)
      fail(`chunk ${chunk.index}/${chunk.count}`);
  }
  const rawSize = varint('raw size');
  const meta: EnvelopeMeta = { type, region, fromVersion, toVersion, toHash, codec, chunk, rawSize };
  if (!(flags & SIGNED)) return { meta, payload: body.subarray(at) };
  if (at + KEY_ID_BYTES + SIGNATURE_BYTES > body.byteLength) fail('ends inside the signature');
  const envelope = body.subarray(0, at);
  meta.keyId = Buffer.from(body.buffer, body.byteOffset + at, KEY_ID_BYTES).toString('hex');
  const signature = body.subarray(at + KEY_ID_BYTES, at + KEY_ID_BYTES + SIGNATURE_BYTES);
  return {
    meta,
    payload: body.subarray(at + KEY_ID_BYTES + SIGNATURE_BYTES),
    signature: { keyId: meta.keyId, signature, envelope },
  };
}

function pushVarint(out: number[], n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`cannot encode ${n} as a varint`);
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/**
 * `Nats-Msg-Id` of a message, for JetStream dedup: deterministic for a region, type, versions
 * and chunk, so two hub replicas publishing the same message are deduplicated. The dedup window
 * is per stream, so the id must tell regions apart; 12 characters of base64url of a SHA-256
 * (72 bits) do, in a fraction of the bytes of the readable form (`eu-west:42:s:3/5`).
 */
export function messageId(
  meta: Pick<EnvelopeMeta, 'region' | 'type' | 'fromVersion' | 'toVersion' | 'chunk'>,
): string {
  const kind = meta.type === MessageType.Snapshot ? 's' : `d${meta.fromVersion}`;
  return createHash('sha256')
    .update(`${meta.region}\n${meta.toVersion}\n${kind}\n${meta.chunk.index}/${meta.chunk.count}`)
    .digest('base64url')
    .slice(0, 12);
}

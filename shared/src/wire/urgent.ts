/**
 * Urgent messages (docs/protocol.md, "The urgent lane"): a few view entries as they will be at
 * a version the ordered chain has not delivered yet, sent on `fedmesh.urgent.<region>` so that
 * an endpoint removal or a deny rule crosses a saturated line ahead of the backlog. The agent
 * serves them as a provisional overlay until the chain reaches that version. An urgent message
 * carries its own digest (the envelope's hash field is the SHA-256 of the decoded payload), so
 * one that was damaged is refused whole.
 */
import { createHash } from 'node:crypto';
import { Codec, compress, decompress } from '../codec.js';
import { ErrorCode, FedmeshError } from '../errors.js';
import { canonicalJson } from '../view/canonical.js';
import type { ViewResource } from '../view/types.js';
import { decodeBody, type EnvelopeMeta, encodeBody, MessageType, type UrgentPayload } from './envelope.js';
import type { SigningKey } from './signing.js';

/** Largest decoded urgent payload: a handful of entries, never a view. */
export const MAX_URGENT_PAYLOAD_BYTES = 1 << 20;

/** Below this many bytes a payload travels as identity: compression would not pay its way. */
const COMPRESS_FROM = 256;

export interface UrgentMessage {
  /** The chain version the hub had published when it sent this, and the one that will hold it. */
  fromVersion: number;
  toVersion: number;
  entries: Record<string, ViewResource | null>;
}

export async function encodeUrgent(
  region: string,
  msg: UrgentMessage,
  codec: Codec,
  key?: SigningKey,
): Promise<Uint8Array> {
  const raw = new TextEncoder().encode(canonicalJson({ entries: msg.entries } satisfies UrgentPayload));
  const use = raw.byteLength < COMPRESS_FROM ? Codec.Identity : codec;
  const payload = use === Codec.Identity ? raw : await compress(use, raw);
  const meta: EnvelopeMeta = {
    type: MessageType.Urgent,
    region,
    fromVersion: msg.fromVersion,
    toVersion: msg.toVersion,
    toHash: createHash('sha256').update(raw).digest('hex'),
    codec: use,
    chunk: { index: 1, count: 1 },
    rawSize: raw.byteLength,
  };
  return encodeBody(meta, payload, key);
}

/**
 * Reads and verifies an urgent message; anything wrong is a `decode_failed` error naming what.
 * Its signature is the caller's to check first (the agent's trust), before this decompresses.
 */
export async function decodeUrgent(region: string, body: Uint8Array): Promise<UrgentMessage> {
  const { meta, payload } = decodeBody(region, body);
  const fail = (what: string): never => {
    throw new FedmeshError(ErrorCode.DecodeFailed, `bad urgent message: ${what}`);
  };
  if (meta.type !== MessageType.Urgent) fail(`a ${meta.type} on the urgent subject`);
  if (meta.chunk.count !== 1) fail('chunked');
  if (meta.rawSize > MAX_URGENT_PAYLOAD_BYTES) fail(`announces ${meta.rawSize} bytes`);
  const raw = await decompress(meta.codec, payload, Math.max(1, meta.rawSize));
  if (raw.byteLength !== meta.rawSize) fail(`decodes to ${raw.byteLength} bytes, not ${meta.rawSize}`);
  if (createHash('sha256').update(raw).digest('hex') !== meta.toHash) fail('digest does not match');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    fail('payload is not JSON');
  }
  const entries = (parsed as Partial<UrgentPayload> | null)?.entries;
  if (typeof entries !== 'object' || entries === null || Array.isArray(entries)) fail('no entries');
  for (const [key, value] of Object.entries(entries!)) {
    if (value !== null && (typeof value !== 'object' || Array.isArray(value))) fail(`entry ${key}`);
  }
  return { fromVersion: meta.fromVersion, toVersion: meta.toVersion, entries: entries! };
}

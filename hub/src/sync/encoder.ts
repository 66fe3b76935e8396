import {
  type Codec,
  canonicalJson,
  compress,
  type DeltaPayload,
  type EnvelopeMeta,
  encodeBody,
  MessageType,
  type SigningKey,
  type SnapshotPayload,
} from '@fedmesh/shared';

/** One message ready for the sync stream. */
export interface OutgoingMessage {
  meta: EnvelopeMeta;
  /** The message body: the binary envelope of `meta`, then this chunk of the payload. */
  data: Uint8Array;
}

export interface EncodeOptions {
  codec: Codec;
  level?: number;
  /** Compressed bytes per message; far below NATS max_payload so pacing stays fine-grained. */
  chunkSize: number;
  /** Signs every message (`--signing-key`); unsigned without it. */
  key?: SigningKey;
}

export const DEFAULT_CHUNK_SIZE = 64 * 1024;

/**
 * Encodes a payload deterministically: canonical JSON, then the codec, then fixed-size chunks.
 * The same input always yields the same bytes, which is what makes JetStream dedup work across
 * hub replicas.
 */
export async function encodeMessages(
  head: Pick<EnvelopeMeta, 'type' | 'region' | 'fromVersion' | 'toVersion' | 'toHash'>,
  payload: SnapshotPayload | DeltaPayload,
  opts: EncodeOptions,
): Promise<OutgoingMessage[]> {
  const raw = new TextEncoder().encode(canonicalJson(payload));
  const body = await compress(opts.codec, raw, opts.level === undefined ? {} : { level: opts.level });
  const count = Math.max(1, Math.ceil(body.byteLength / opts.chunkSize));
  const out: OutgoingMessage[] = [];
  for (let i = 0; i < count; i++) {
    const meta = { ...head, codec: opts.codec, chunk: { index: i + 1, count }, rawSize: raw.byteLength };
    const chunk = body.subarray(i * opts.chunkSize, (i + 1) * opts.chunkSize);
    out.push({ meta, data: encodeBody(meta, chunk, opts.key) });
  }
  return out;
}

export function encodeSnapshot(
  region: string,
  version: number,
  hash: string,
  resources: SnapshotPayload['resources'],
  opts: EncodeOptions,
): Promise<OutgoingMessage[]> {
  return encodeMessages(
    { type: MessageType.Snapshot, region, fromVersion: 0, toVersion: version, toHash: hash },
    { resources },
    opts,
  );
}

export function encodeDelta(
  region: string,
  fromVersion: number,
  toVersion: number,
  toHash: string,
  ops: DeltaPayload['ops'],
  opts: EncodeOptions,
): Promise<OutgoingMessage[]> {
  return encodeMessages({ type: MessageType.Delta, region, fromVersion, toVersion, toHash }, { ops }, opts);
}

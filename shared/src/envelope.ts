import type { Operation } from 'fast-json-patch';
import { ErrorCode, FedmeshError } from './errors.js';
import type { ViewResource } from './view/types.js';

/**
 * The sync envelope: what travels on `fedmesh.sync.<region>`. Metadata rides in NATS headers
 * so an agent can check ordering and size before it spends CPU on decompression.
 */
export const Header = {
  Type: 'Fedmesh-Type',
  Region: 'Fedmesh-Region',
  FromVersion: 'Fedmesh-From-Version',
  ToVersion: 'Fedmesh-To-Version',
  ToHash: 'Fedmesh-To-Hash',
  Codec: 'Fedmesh-Codec',
  /** `i/n`, 1-based: this message is chunk i of an n-chunk payload. */
  Chunk: 'Fedmesh-Chunk',
  /** Uncompressed size of the whole payload, so the agent can refuse absurd sizes up front. */
  RawSize: 'Fedmesh-Raw-Size',
  MsgId: 'Nats-Msg-Id',
} as const;

export const MessageType = { Snapshot: 'snapshot', Delta: 'delta' } as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Decoded payload of a snapshot: the whole resources map of the view. */
export type SnapshotPayload = { resources: Record<string, ViewResource> };
/** Decoded payload of a delta: RFC 6902 ops against the `resources` map. */
export type DeltaPayload = { ops: Operation[] };

export interface EnvelopeMeta {
  type: MessageType;
  region: string;
  fromVersion: number;
  toVersion: number;
  toHash: string;
  codec: string;
  chunk: { index: number; count: number };
  rawSize: number;
}

/** `Nats-Msg-Id` of a message: stable for a given region, target version and chunk, for JetStream dedup. */
export function messageId(
  meta: Pick<EnvelopeMeta, 'region' | 'type' | 'fromVersion' | 'toVersion' | 'chunk'>,
): string {
  const base = `${meta.region}:${meta.toVersion}`;
  const kind =
    meta.type === MessageType.Snapshot ? ':s' : meta.fromVersion === 0 ? '' : `:${meta.fromVersion}`;
  return meta.chunk.count > 1 ? `${base}${kind}:${meta.chunk.index}/${meta.chunk.count}` : `${base}${kind}`;
}

export function metaToHeaders(meta: EnvelopeMeta): Record<string, string> {
  return {
    [Header.Type]: meta.type,
    [Header.Region]: meta.region,
    [Header.FromVersion]: String(meta.fromVersion),
    [Header.ToVersion]: String(meta.toVersion),
    [Header.ToHash]: meta.toHash,
    [Header.Codec]: meta.codec,
    [Header.Chunk]: `${meta.chunk.index}/${meta.chunk.count}`,
    [Header.RawSize]: String(meta.rawSize),
  };
}

/** Reads and checks the envelope headers; anything malformed is a `decode_failed` error. */
export function metaFromHeaders(get: (name: string) => string | undefined): EnvelopeMeta {
  const fail = (what: string): never => {
    throw new FedmeshError(ErrorCode.DecodeFailed, `bad sync message: ${what}`);
  };
  const type = get(Header.Type);
  if (type !== MessageType.Snapshot && type !== MessageType.Delta) fail(`header ${Header.Type}="${type}"`);
  const int = (name: string): number => {
    const raw = get(name);
    const n = raw === undefined || raw === '' ? Number.NaN : Number(raw);
    if (!Number.isSafeInteger(n) || n < 0) fail(`header ${name}="${raw}"`);
    return n;
  };
  const chunkRaw = get(Header.Chunk) ?? '1/1';
  const m = /^(\d+)\/(\d+)$/.exec(chunkRaw);
  const index = m ? Number(m[1]) : 0;
  const count = m ? Number(m[2]) : 0;
  if (!m || index < 1 || count < 1 || index > count) fail(`header ${Header.Chunk}="${chunkRaw}"`);
  const toHash = get(Header.ToHash) ?? '';
  if (!/^[0-9a-f]{64}$/.test(toHash)) fail(`header ${Header.ToHash}="${toHash}"`);
  return {
    type: type as MessageType,
    region: get(Header.Region) ?? fail(`missing ${Header.Region}`),
    fromVersion: int(Header.FromVersion),
    toVersion: int(Header.ToVersion),
    toHash,
    codec: get(Header.Codec) ?? fail(`missing ${Header.Codec}`),
    chunk: { index, count },
    rawSize: int(Header.RawSize),
  };
}

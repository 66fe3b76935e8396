/**
 * Hub key announcements (docs/protocol.md, "Signatures"): stream `FEDMESH_KEYS`, subject
 * `fedmesh.keys`, one small JSON record per hub key. A key's first record stands alone (an
 * agent trusting on first use takes it when a snapshot it receives is signed by it); a rotated
 * key's record names the key before it and carries that key's signature over the new one, so an
 * agent that trusts the old key comes to trust the new one without anyone touching it.
 */
import { ErrorCode, FedmeshError } from '../errors.js';
import { canonicalJson } from '../view/canonical.js';
import {
  keyIdOf,
  publicKeyFromRaw,
  rawPublicKey,
  type SigningKey,
  type TrustedKeys,
  verifySignature,
} from './signing.js';

export const KEYS_STREAM = 'FEDMESH_KEYS';
export const KEYS_SUBJECT = 'fedmesh.keys';
const ROTATION_DOMAIN = 'fedmesh-key-v1\n';

export interface KeyAnnouncement {
  /** The key's raw 32 bytes, base64. */
  key: string;
  id: string;
  /** The key it follows, and that key's signature over `fedmesh-key-v1\n` ‖ the new raw key. */
  previous?: string;
  signature?: string;
}

/** The record of `key`, signed by `previous` when it replaces it. */
export function announceKey(key: SigningKey, previous?: SigningKey): KeyAnnouncement {
  const raw = rawPublicKey(key.publicKey);
  return {
    key: raw.toString('base64'),
    id: key.keyId,
    ...(previous
      ? {
          previous: previous.keyId,
          signature: Buffer.from(previous.sign(Buffer.concat([Buffer.from(ROTATION_DOMAIN), raw]))).toString(
            'base64',
          ),
        }
      : {}),
  };
}

export function encodeAnnouncement(a: KeyAnnouncement): Uint8Array {
  return new TextEncoder().encode(canonicalJson(a));
}

/** A record from the stream; anything malformed (or whose id does not match its key) is refused. */
export function decodeAnnouncement(data: Uint8Array): KeyAnnouncement {
  const fail = (what: string): never => {
    throw new FedmeshError(ErrorCode.DecodeFailed, `bad key announcement: ${what}`);
  };
  let v: Partial<KeyAnnouncement>;
  try {
    v = JSON.parse(new TextDecoder().decode(data)) as Partial<KeyAnnouncement>;
  } catch {
    return fail('not JSON');
  }
  if (typeof v?.key !== 'string' || typeof v.id !== 'string') fail('no key or id');
  const raw = Buffer.from(v.key!, 'base64');
  if (raw.byteLength !== 32) fail('the key is not 32 bytes');
  if (keyIdOf(publicKeyFromRaw(raw)) !== v.id) fail(`id ${v.id} is not the id of its key`);
  if ((v.previous === undefined) !== (v.signature === undefined)) fail('previous and signature go together');
  return v as KeyAnnouncement;
}

/**
 * Adds to `trust` every announced key that a trusted key vouches for, following chains of
 * rotations in any order; returns the ids added. A record whose signature does not verify is
 * ignored, whoever published it.
 */
export function extendTrust(
  trust: TrustedKeys & { add(key: ReturnType<typeof publicKeyFromRaw>): string },
  announcements: readonly KeyAnnouncement[],
): string[] {
  const added: string[] = [];
  for (let progress = true; progress; ) {
    progress = false;
    for (const a of announcements) {
      if (trust.has(a.id) || a.previous === undefined || a.signature === undefined) continue;
      const by = trust.get(a.previous);
      if (!by) continue;
      const raw = Buffer.from(a.key, 'base64');
      const signed = Buffer.concat([Buffer.from(ROTATION_DOMAIN), raw]);
      if (!verifySignature(by, signed, Buffer.from(a.signature, 'base64'))) continue;
      added.push(trust.add(publicKeyFromRaw(raw)));
      progress = true;
    }
  }
  return added;
}

/**
 * Signed sync (DESIGN.md, "Trust"; docs/protocol.md, "Signatures"). The hub signs every message
 * it puts on a region's line with Ed25519; an agent checks the signature before it spools or
 * decompresses anything. What is signed binds the message to its region (the subject is not in
 * the body, so a message replayed on another region's subject fails) and to its payload:
 *
 *   "fedmesh-sync-v2\n" ‖ region ‖ "\n" ‖ envelope up to the key id ‖ SHA-256(payload)
 *
 * Ed25519 signatures are deterministic: two hub replicas with the same key publish the same
 * bytes, which JetStream's dedup relies on.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
  verify,
} from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

export const SIGNATURE_BYTES = 64;
export const KEY_ID_BYTES = 8;
const DOMAIN = 'fedmesh-sync-v2\n';
/** The DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A hub's signing key: the private half, and the public half under its id. */
export interface SigningKey {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  sign(data: Uint8Array): Uint8Array;
}

/** The id of a public key: the first 8 bytes of SHA-256 of its raw 32 bytes, as hex. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(rawPublicKey(publicKey))
    .digest()
    .subarray(0, KEY_ID_BYTES)
    .toString('hex');
}

export function rawPublicKey(publicKey: KeyObject): Buffer {
  const der = publicKey.export({ format: 'der', type: 'spki' });
  if (der.length !== SPKI_PREFIX.length + 32 || !der.subarray(0, SPKI_PREFIX.length).equals(SPKI_PREFIX))
    throw new TypeError('not an Ed25519 public key');
  return der.subarray(SPKI_PREFIX.length);
}

export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  if (raw.byteLength !== 32) throw new TypeError('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** PEM of the public half: what `fedmesh-hub --print-public-key` prints and `--trust` lists. */
export function publicKeyPem(publicKey: KeyObject): string {
  return publicKey.export({ format: 'pem', type: 'spki' }).toString();
}

export function signingKeyFrom(privateKey: KeyObject): SigningKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new TypeError('the signing key must be Ed25519');
  const publicKey = createPublicKey(privateKey);
  return {
    keyId: keyIdOf(publicKey),
    publicKey,
    sign: (data) => sign(null, data, privateKey),
  };
}

/** A new key, in memory only (tests, tools). */
export function generateSigningKey(): SigningKey {
  return signingKeyFrom(generateKeyPairSync('ed25519').privateKey);
}

/**
 * The key in `file` (PKCS#8 PEM), or a new one written there with mode 0600 when the file does
 * not exist. `created` says which, so the caller can tell the operator to distribute it.
 */
export function loadOrCreateSigningKey(file: string): { key: SigningKey; created: boolean } {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const { privateKey } = generateKeyPairSync('ed25519');
    pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    // 'wx': never overwrite a key another process wrote in the meantime.
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
    return { key: signingKeyFrom(createPrivateKey(pem)), created: true };
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${file} is not a PEM private key: ${(err as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new Error(`${file} holds a ${privateKey.asymmetricKeyType} key; fedmesh signs with Ed25519`);
  return { key: signingKeyFrom(privateKey), created: false };
}

/** The bytes a message's signature covers (see the file comment). */
export function signedBytes(region: string, envelopeUpToKeyId: Uint8Array, payload: Uint8Array): Buffer {
  return Buffer.concat([
    Buffer.from(`${DOMAIN}${region}\n`),
    envelopeUpToKeyId,
    createHash('sha256').update(payload).digest(),
  ]);
}

/** A signed message's signature, with the envelope bytes it covers (up to the key id). */
export interface EnvelopeSignature {
  keyId: string;
  signature: Uint8Array;
  envelope: Uint8Array;
}

/**
 * Why a message on `region`'s line is not signed by a trusted key, or undefined when it is.
 * `unknown-key` is told apart: a rotation may have announced a key the agent has not fetched.
 */
export function signatureProblem(
  region: string,
  payload: Uint8Array,
  sig: EnvelopeSignature | undefined,
  trust: TrustedKeys,
): { reason: 'unsigned' | 'unknown-key' | 'bad-signature'; message: string } | undefined {
  if (!sig) return { reason: 'unsigned', message: 'the message is not signed' };
  const key = trust.get(sig.keyId);
  if (!key) return { reason: 'unknown-key', message: `signed by key ${sig.keyId}, which is not trusted` };
  if (!verifySignature(key, signedBytes(region, sig.envelope, payload), sig.signature))
    return { reason: 'bad-signature', message: `the signature by key ${sig.keyId} does not match` };
  return undefined;
}

/** Public keys an agent accepts, by id. */
export interface TrustedKeys {
  has(keyId: string): boolean;
  get(keyId: string): KeyObject | undefined;
  ids(): string[];
}

export function trustedKeys(keys: Iterable<KeyObject>): TrustedKeys & { add(key: KeyObject): string } {
  const byId = new Map<string, KeyObject>();
  const add = (key: KeyObject) => {
    const id = keyIdOf(key);
    byId.set(id, key);
    return id;
  };
  for (const k of keys) add(k);
  return {
    has: (id) => byId.has(id),
    get: (id) => byId.get(id),
    ids: () => [...byId.keys()],
    add,
  };
}

/** Whether `signature` by `key` covers `data`; false (never a throw) on any malformed input. */
export function verifySignature(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return signature.byteLength === SIGNATURE_BYTES && verify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** Public keys from PEM text (any number of `PUBLIC KEY` blocks): a `--trust` file. */
export function parsePublicKeys(text: string, what: string): KeyObject[] {
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g) ?? [];
  if (blocks.length === 0) throw new Error(`${what} holds no PEM public key (-----BEGIN PUBLIC KEY-----)`);
  return blocks.map((pem, i) => {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (err) {
      throw new Error(`${what}: key ${i + 1} is not a public key: ${(err as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`${what}: key ${i + 1} is not Ed25519`);
    return key;
  });
}

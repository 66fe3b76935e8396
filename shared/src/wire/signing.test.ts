import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeBody, type EnvelopeMeta, encodeBody, MessageType } from './envelope.js';
import {
  keyIdOf,
  loadOrCreateSigningKey,
  parsePublicKeys,
  publicKeyPem,
  signatureProblem,
  signingKeyFrom,
  trustedKeys,
} from './signing.js';

/** A fixed Ed25519 key (PKCS#8 around a 32-byte seed of 0x01..0x20): golden vectors stay fixed. */
const SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
const KEY = signingKeyFrom(
  createPrivateKey({
    key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), SEED]),
    format: 'der',
    type: 'pkcs8',
  }),
);
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
const payload = Buffer.from('payload bytes');
const dir = mkdtempSync(join(tmpdir(), 'fedmesh-signing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('signed sync', () => {
  it('signing - golden vector: a signed delta is the 38-byte envelope, the key id and a deterministic signature', () => {
    const body = encodeBody(delta, payload, KEY);
    expect(KEY.keyId).toBe(keyIdOf(KEY.publicKey));
    const hex = Buffer.from(body).toString('hex');
    // Flags 0x24: delta, br, signed. Then from 41, to 42, the hash, raw 180, the key id, 64 bytes.
    expect(hex.slice(0, 8)).toBe('f224292a');
    expect(hex.slice(8, 72)).toBe(HASH);
    expect(hex.slice(72, 76)).toBe('b401');
    expect(hex.slice(76, 92)).toBe(KEY.keyId);
    expect(body.byteLength).toBe(38 + 8 + 64 + payload.byteLength);
    expect(KEY.keyId).toBe('65b60673d6ed884b');
    // Checked independently: `openssl pkeyutl -sign -rawin` over the signed bytes gives the same.
    expect(hex.slice(92, 220)).toBe(
      'eb2dfbf0469e79e02fd56947b9067f7abb25a75156bce630088dfe1566a11f4b' +
        '73b2fa2c0e2e8bea2d04b120d5b8bcc671660b3e331d56f7703d36a351bc8d0b',
    );
    expect(hex.slice(220)).toBe(payload.toString('hex'));
  });

  it('signing - a signed message verifies; a changed byte, another region, another key or no signature do not', () => {
    const trust = trustedKeys([KEY.publicKey]);
    const body = encodeBody(delta, payload, KEY);
    const ok = decodeBody('eu-west', body);
    expect(ok.meta.keyId).toBe(KEY.keyId);
    expect(signatureProblem('eu-west', ok.payload, ok.signature, trust)).toBeUndefined();

    const tampered = Uint8Array.from(body);
    tampered[tampered.byteLength - 1]! ^= 1;
    const t = decodeBody('eu-west', tampered);
    expect(signatureProblem('eu-west', t.payload, t.signature, trust)?.reason).toBe('bad-signature');
    const versionBumped = Uint8Array.from(body);
    versionBumped[3] = 0x2b; // to-version 43
    const v = decodeBody('eu-west', versionBumped);
    expect(signatureProblem('eu-west', v.payload, v.signature, trust)?.reason).toBe('bad-signature');
    // The same bytes on another region's subject: the region is in what is signed.
    const other = decodeBody('us-east', body);
    expect(signatureProblem('us-east', other.payload, other.signature, trust)?.reason).toBe('bad-signature');

    const stranger = signingKeyFrom(generateKeyPairSync('ed25519').privateKey);
    const s = decodeBody('eu-west', encodeBody(delta, payload, stranger));
    expect(signatureProblem('eu-west', s.payload, s.signature, trust)?.reason).toBe('unknown-key');
    const u = decodeBody('eu-west', encodeBody(delta, payload));
    expect(u.signature).toBeUndefined();
    expect(signatureProblem('eu-west', u.payload, u.signature, trust)?.reason).toBe('unsigned');
  });

  it('signing - a missing key file is created with mode 0600 and read back as the same key', () => {
    const file = join(dir, 'hub.pem');
    const first = loadOrCreateSigningKey(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = loadOrCreateSigningKey(file);
    expect(again.created).toBe(false);
    expect(again.key.keyId).toBe(first.key.keyId);
    // Its public half round-trips through a --trust file.
    const trustFile = `${publicKeyPem(first.key.publicKey)}\n${publicKeyPem(KEY.publicKey)}`;
    expect(parsePublicKeys(trustFile, 'trust').map(keyIdOf)).toEqual([first.key.keyId, KEY.keyId]);
  });

  it('signing - a key file that is not an Ed25519 private key is refused in words', () => {
    const rsa = join(dir, 'rsa.pem');
    writeFileSync(
      rsa,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ format: 'pem', type: 'pkcs8' }),
    );
    expect(() => loadOrCreateSigningKey(rsa)).toThrow(/holds a rsa key; fedmesh signs with Ed25519/);
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a key');
    expect(() => loadOrCreateSigningKey(junk)).toThrow(/is not a PEM private key/);
    expect(() => parsePublicKeys('nothing here', 'trust.pem')).toThrow(/holds no PEM public key/);
    expect(readFileSync(junk, 'utf8')).toBe('not a key');
  });
});

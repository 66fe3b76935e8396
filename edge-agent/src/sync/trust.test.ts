import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  announceKey,
  decodeBody,
  type EnvelopeMeta,
  encodeBody,
  generateSigningKey,
  type KeyAnnouncement,
  MessageType,
  publicKeyPem,
  type SigningKey,
  silentLogger,
} from '@fedmesh/shared';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSyncTrust } from './trust.js';

const meta: EnvelopeMeta = {
  type: MessageType.Delta,
  region: 'eu-west',
  fromVersion: 1,
  toVersion: 2,
  toHash: 'cd'.repeat(32),
  codec: 'identity',
  chunk: { index: 1, count: 1 },
  rawSize: 4,
};
const message = (key?: SigningKey, region = 'eu-west') =>
  decodeBody(region, encodeBody({ ...meta, region }, Buffer.from('data'), key));

describe('agent trust', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-trust-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trust - first use pins the announced key, then refuses unsigned and foreign messages, also after a restart', async () => {
    const hub = generateSigningKey();
    const announcements: KeyAnnouncement[] = [announceKey(hub)];
    const make = () =>
      createSyncTrust({ stateDir: dir, announcements: async () => announcements, log: silentLogger() });
    const trust = make();
    await trust.load();
    // A hub that does not sign: taken, while nothing is trusted.
    const unsigned = message();
    await trust.verify('eu-west', unsigned.payload, unsigned.signature);
    expect(trust.status().mode).toBe('unsigned');
    const signed = message(hub);
    await trust.verify('eu-west', signed.payload, signed.signature);
    expect(trust.status()).toEqual({ mode: 'first-use', keys: [hub.keyId] });
    await expect(trust.verify('eu-west', unsigned.payload, unsigned.signature)).rejects.toThrow(/not signed/);
    const stranger = message(generateSigningKey());
    await expect(trust.verify('eu-west', stranger.payload, stranger.signature)).rejects.toThrow(
      /not trusted/,
    );

    const again = make();
    await again.load();
    expect(again.status()).toEqual({ mode: 'first-use', keys: [hub.keyId] });
    await expect(again.verify('eu-west', unsigned.payload, unsigned.signature)).rejects.toThrow(/not signed/);
  });

  it('trust - a key announced by nobody, or whose announced key did not sign the message, is not pinned', async () => {
    const hub = generateSigningKey();
    const impostor = generateSigningKey();
    // The impostor publishes a record naming its own key under the hub's id: the id does not match the key.
    const trust = createSyncTrust({
      stateDir: dir,
      announcements: async () => [{ ...announceKey(impostor), id: hub.keyId }],
      log: silentLogger(),
    });
    await trust.load();
    const signed = message(hub);
    await expect(trust.verify('eu-west', signed.payload, signed.signature)).rejects.toThrow();
    expect(trust.status().mode).toBe('unsigned');
  });

  it('trust - --trust keys, extended by a rotation the old key signed, but not by one it did not', async () => {
    const old = generateSigningKey();
    const next = generateSigningKey();
    const rogue = generateSigningKey();
    const announcements: KeyAnnouncement[] = [announceKey(old)];
    const trust = createSyncTrust({
      stateDir: dir,
      trustFile: { path: 'trust.pem', text: publicKeyPem(old.publicKey) },
      announcements: async () => announcements,
      log: silentLogger(),
    });
    await trust.load();
    expect(trust.status().mode).toBe('configured');
    const fromNext = message(next);
    await expect(trust.verify('eu-west', fromNext.payload, fromNext.signature)).rejects.toThrow(
      /not trusted/,
    );
    announcements.push(announceKey(rogue, rogue), announceKey(next, old));
    await trust.verify('eu-west', fromNext.payload, fromNext.signature);
    expect(trust.status().keys.sort()).toEqual([old.keyId, next.keyId].sort());
    const fromRogue = message(rogue);
    await expect(trust.verify('eu-west', fromRogue.payload, fromRogue.signature)).rejects.toThrow(
      /not trusted/,
    );
    // The region is part of what is signed: the hub's message replayed on another region fails.
    const replayed = decodeBody('us-east', encodeBody(meta, Buffer.from('data'), old));
    await expect(trust.verify('us-east', replayed.payload, replayed.signature)).rejects.toThrow(
      /does not match/,
    );
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tokenDigest } from './api/auth.js';
import { HubConfigSchema, loadTokens } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'fedmesh-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const load = (text: string) => {
  const file = join(dir, `t${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return loadTokens(HubConfigSchema.parse({ tokensFile: file }), parse);
};

describe('tokens file', () => {
  it('tokens - plain tokens and SHA-256 entries both become digests; the hub keeps no token', () => {
    const sha = tokenDigest('second-token-0123456789');
    const tokens = load(
      `tokens:\n  - {token: first-token-0123456789, role: admin}\n  - {sha256: ${sha.toUpperCase()}, role: read-only, name: dash}\n`,
    );
    expect([...tokens.keys()]).toEqual([tokenDigest('first-token-0123456789'), sha]);
    expect(tokens.get(sha)).toEqual({ name: 'dash', role: 'read-only' });
    expect(tokens.get(tokenDigest('first-token-0123456789'))!.name).toMatch(/^token-[0-9a-f]{8}$/);
  });

  it('tokens - an entry with both, neither, or a malformed hash is refused, naming it', () => {
    expect(() => load('tokens:\n  - {role: admin}\n')).toThrow(/tokens\.0: give either token or sha256/);
    expect(() =>
      load(`tokens:\n  - {token: first-token-0123456789, sha256: ${tokenDigest('x')}, role: admin}\n`),
    ).toThrow(/either token or sha256/);
    expect(() => load('tokens:\n  - {sha256: abc, role: admin}\n')).toThrow(
      /tokens\.0\.sha256: must be the SHA-256/,
    );
    expect(() => load('tokens:\n  - {token: first-token-0123456789, role: admin, secret: 1}\n')).toThrow(
      /tokens\.0/,
    );
  });
});

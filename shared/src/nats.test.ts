import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { authenticatorFromFile, splitCredentials } from './nats.js';

describe('splitCredentials', () => {
  it('nats - takes user and password out of server URLs', () => {
    expect(
      splitCredentials('nats://agent-eu:s%40cret@10.0.0.1:4222, nats://agent-eu:s%40cret@10.0.0.2:4222'),
    ).toEqual({
      servers: ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222'],
      user: 'agent-eu',
      pass: 's@cret',
    });
  });

  it('nats - leaves URLs without credentials alone', () => {
    expect(splitCredentials('nats://127.0.0.1:4222')).toEqual({ servers: ['nats://127.0.0.1:4222'] });
  });
});

describe('--nats-creds', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fedmesh-creds-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('nats - takes an nkey user seed or a .creds file, and refuses anything else in words', () => {
    const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
    expect(typeof authenticatorFromFile(file('agent.nk', `${seed}\n`))).toBe('function');
    expect(() => authenticatorFromFile(file('junk', 'password123'))).toThrow(
      /is neither a NATS \.creds file nor an nkey user seed/,
    );
    expect(() => authenticatorFromFile(join(dir, 'missing'))).toThrow(/ENOENT/);
  });
});

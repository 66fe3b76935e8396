import { describe, expect, it } from 'vitest';
import { splitCredentials } from './nats.js';

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

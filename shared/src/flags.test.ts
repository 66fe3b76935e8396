import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FlagTypes, parseFlags } from './flags.js';

const schema = z.object({
  listen: FlagTypes.hostPort.default('127.0.0.1:8080'),
  maxWait: FlagTypes.duration.default(1000),
  budget: FlagTypes.rate.optional(),
});
const flags = { listen: 'X_LISTEN', 'max-wait': 'X_MAX_WAIT', budget: 'X_BUDGET' };

describe('parseFlags', () => {
  it('flags - a flag beats its environment variable, which beats the default', () => {
    const out = parseFlags({
      argv: ['--max-wait', '2s'],
      env: { X_MAX_WAIT: '5s', X_BUDGET: '2Mbit/s' },
      flags,
      schema,
    });
    expect(out).toEqual({
      help: false,
      config: { listen: '127.0.0.1:8080', maxWait: 2000, budget: 250_000 },
    });
  });

  it('flags - an invalid value names the flag; an unknown flag is refused; --help wins', () => {
    expect(() => parseFlags({ argv: ['--listen', 'nowhere'], env: {}, flags, schema })).toThrow(
      '--listen: must be host:port',
    );
    expect(() => parseFlags({ argv: ['--bogus', '1'], env: {}, flags, schema })).toThrow(/bogus/);
    expect(parseFlags({ argv: ['-h'], env: {}, flags, schema })).toEqual({ help: true });
  });
});

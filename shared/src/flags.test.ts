import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FlagTypes, parseFlags } from './flags.js';
import { closestMatch } from './suggest.js';

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

  it("flags - errors say what to give, in our words, not the parser's or zod's", () => {
    const strict = z.object({
      region: z.string(),
      replicas: z.coerce.number().int().min(1).max(5).optional(),
      level: z.enum(['info', 'debug']).optional(),
    });
    const f = { region: 'X_REGION', replicas: 'X_REPLICAS', level: 'X_LEVEL' };
    const message = (argv: string[]) => {
      try {
        parseFlags({ argv, env: {}, flags: f, schema: strict });
      } catch (err) {
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(message([])).toBe('invalid configuration: --region: required (give --region or set X_REGION)');
    expect(message(['--region'])).toBe('--region needs a value');
    expect(message(['--region', '--level', 'info'])).toBe(
      '--region needs a value (it is followed by the flag --level)',
    );
    expect(message(['--regoin', 'eu'])).toBe('unknown flag --regoin; did you mean --region?');
    expect(message(['--region', 'eu', 'extra'])).toBe(
      'unexpected argument "extra": options are --flag value pairs',
    );
    expect(message(['--region', 'eu', '--replicas', 'two'])).toBe(
      'invalid configuration: --replicas: must be a number',
    );
    expect(message(['--region', 'eu', '--replicas', '1.5'])).toBe(
      'invalid configuration: --replicas: must be a whole number',
    );
    expect(message(['--region', 'eu', '--replicas', '9'])).toBe(
      'invalid configuration: --replicas: must be at most 5',
    );
    expect(message(['--region', 'eu', '--level', 'loud'])).toBe(
      'invalid configuration: --level: must be one of info, debug',
    );
  });
});

describe('closestMatch', () => {
  it('suggest - finds a typo, a swapped pair and a missing letter, and nothing for another word', () => {
    expect(closestMatch('servce', ['service', 'services', 'region'])).toBe('service');
    expect(closestMatch('aplpy', ['apply', 'diff'])).toBe('apply');
    expect(closestMatch('regon', ['region', 'regions'])).toBe('region');
    expect(closestMatch('frobnicate', ['apply', 'diff', 'get'])).toBeUndefined();
    expect(closestMatch('xy', ['xyz'])).toBeUndefined();
  });
});

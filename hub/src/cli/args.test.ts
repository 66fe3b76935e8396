import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError, wholeNumber } from './args.js';

describe('cli arguments', () => {
  it('cli - reads --flag value, --flag=value, -f value, -fvalue, booleans and -- like kubectl', () => {
    expect(
      parseArgs([
        'get',
        'svc',
        '-n',
        'shop',
        '--output=json',
        '-fa.yaml',
        '-f',
        '-',
        '-w',
        '--dry-run=false',
      ]),
    ).toEqual({
      values: { namespace: 'shop', output: 'json', filename: ['a.yaml', '-'], watch: true, 'dry-run': false },
      positionals: ['get', 'svc'],
      given: ['namespace', 'output', 'filename', 'filename', 'watch', 'dry-run'],
    });
    expect(parseArgs(['get', '--', '-n']).positionals).toEqual(['get', '-n']);
    expect(parseArgs(['-n=shop']).values.namespace).toBe('shop');
  });

  it('cli - every mistake is a UsageError naming the flag and what it expects', () => {
    const message = (argv: string[]) => {
      try {
        parseArgs(argv);
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(message(['--server'])).toBe(
      '--server needs a value: the hub admin API, e.g. http://127.0.0.1:8080 or 127.0.0.1:8080',
    );
    expect(message(['-f', '--dry-run'])).toBe(
      '-f needs a value: a file, a directory or - for stdin (found --dry-run instead)',
    );
    expect(message(['--tokn', 'x'])).toBe('unknown flag --tokn; did you mean --token?');
    expect(message(['-x'])).toBe('unknown flag -x');
    expect(message(['-wx'])).toBe('unknown flag -wx');
    expect(message(['--watch=yes'])).toBe('--watch takes no value (or =true / =false), not "yes"');
    expect(() => wholeNumber('0', '--limit', 1, 1000)).toThrow(
      '--limit must be a whole number from 1 to 1000, not "0"',
    );
    expect(wholeNumber('1000', '--limit', 1, 1000)).toBe(1000);
  });
});

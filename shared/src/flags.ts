import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseByteRate, parseByteSize, parseDuration } from './model/index.js';
import { closestMatch } from './suggest.js';

/**
 * Command-line configuration the same way for every bin: each `--flag` may also come from an
 * environment variable (the flag wins), the result is validated once by a zod schema whose keys
 * are the camel-cased flag names, and errors name the flag.
 */
export function parseFlags<S extends z.ZodType>(opts: {
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** `flag-name` → environment variable. */
  flags: Readonly<Record<string, string>>;
  schema: S;
  /** Values that only come from the environment (secrets), merged before validation. */
  extra?: Record<string, unknown>;
}): { help: true } | { help: false; config: Readonly<z.output<S>> } {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: opts.argv,
      options: {
        ...Object.fromEntries(Object.keys(opts.flags).map((k) => [k, { type: 'string' as const }])),
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new Error(argvProblem(err as Error & { code?: string }, opts.argv, Object.keys(opts.flags)));
  }
  if (values.help) return { help: true };
  const raw: Record<string, unknown> = { ...opts.extra };
  for (const [flag, envName] of Object.entries(opts.flags)) {
    const v = values[flag] ?? opts.env[envName];
    if (v !== undefined && v !== '') raw[camel(flag)] = v;
  }
  const r = opts.schema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues
      .map((i) => {
        const key = String(i.path[0] ?? '');
        const flag = kebab(key);
        return `--${flag}: ${issueText(i, raw[key] === undefined, opts.flags[flag])}`;
      })
      .join('; ');
    throw new Error(`invalid configuration: ${msg}`);
  }
  return { help: false, config: Object.freeze(r.data as z.output<S>) };
}

const ZOD_DEFAULT_MESSAGE = /^(Invalid|Too small|Too big)\b/;

/**
 * zod's wording ("Invalid input: expected string, received undefined") reads like a type
 * error in our code; users want to know what to give. Messages the schemas wrote stay as they are.
 */
function issueText(i: z.core.$ZodIssue, absent: boolean, envName: string | undefined): string {
  const flag = `--${kebab(String(i.path[0] ?? ''))}`;
  if (absent && i.code === 'invalid_type')
    return `required (give ${flag}${envName ? ` or set ${envName}` : ''})`;
  // A schema's own message (`error: …`) says it better than any rewording here.
  if (!ZOD_DEFAULT_MESSAGE.test(i.message)) return i.message;
  switch (i.code) {
    case 'invalid_type':
      return i.expected === 'int' ? 'must be a whole number' : `must be a ${i.expected}`;
    case 'invalid_value':
      return `must be one of ${i.values.map(String).join(', ')}`;
    case 'too_small':
      return `must be at least ${String(i.minimum)}`;
    case 'too_big':
      return `must be at most ${String(i.maximum)}`;
    default:
      return i.message;
  }
}

/** util.parseArgs's advice (about "--" and positionals) is for programmers; say what to type. */
function argvProblem(
  err: Error & { code?: string },
  argv: readonly string[],
  flags: readonly string[],
): string {
  const quoted = /'(-[^' ]+)/.exec(err.message)?.[1];
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) {
    const name = quoted.replace(/^-+/, '').split('=')[0]!;
    const near = closestMatch(name, [...flags, 'help']);
    return `unknown flag ${quoted}${near ? `; did you mean --${near}?` : ''}`;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const flag = /--([a-z][a-z0-9-]*)/.exec(err.message)?.[1];
    if (flag) {
      const next = argv[argv.indexOf(`--${flag}`) + 1];
      return next?.startsWith('-')
        ? `--${flag} needs a value (it is followed by the flag ${next})`
        : `--${flag} needs a value`;
    }
  }
  if (err.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /'([^']*)'/.exec(err.message)?.[1];
    return `unexpected argument ${arg ? `"${arg}"` : ''}: options are --flag value pairs`.replace('  ', ' ');
  }
  return err.message;
}

/** zod field types for flags: durations (`100ms`, `2s`), sizes (`64KiB`), rates (`256KiB/s`), addresses. */
export const FlagTypes = {
  duration: quantity(parseDuration),
  size: quantity(parseByteSize),
  rate: quantity(parseByteRate),
  hostPort: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'must be host:port'),
};

function quantity(parse: (v: string) => number) {
  return z.string().transform((v, ctx) => {
    try {
      return parse(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
}

function camel(s: string): string {
  return s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

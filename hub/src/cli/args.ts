import { closestMatch } from '@fedmesh/shared';

/** A command-line mistake: exit status 2, the message in our words, and where to read more. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    /** The command whose help to point at, when there is one. */
    readonly command?: string,
  ) {
    super(message);
  }
}

export interface OptionSpec {
  short?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  /** The value's placeholder in help and messages: `NS`, `FILE|DIR|-`. */
  value?: string;
  /** What the value is, for "needs a value" messages: "a namespace, e.g. -n shop". */
  expects?: string;
  help: string;
}

export const OPTIONS = {
  server: {
    type: 'string',
    value: 'URL',
    expects: 'the hub admin API, e.g. http://127.0.0.1:8080 or 127.0.0.1:8080',
    help: 'hub admin API (FEDMESH_SERVER) [http://127.0.0.1:8080]',
  },
  token: {
    type: 'string',
    value: 'TOKEN',
    expects: "the hub's bearer token",
    help: 'bearer token (FEDMESH_TOKEN)',
  },
  namespace: {
    short: 'n',
    type: 'string',
    value: 'NS',
    expects: 'a namespace, e.g. -n shop',
    help: 'namespace (FEDMESH_NAMESPACE) [default]',
  },
  output: {
    short: 'o',
    type: 'string',
    value: 'FORMAT',
    expects: 'table, wide, yaml or json',
    help: 'table | wide | yaml | json [table]',
  },
  filename: {
    short: 'f',
    type: 'string',
    multiple: true,
    value: 'FILE|DIR|-',
    expects: 'a file, a directory or - for stdin',
    help: 'manifests: a file, a directory or - (stdin); repeatable',
  },
  'dry-run': { type: 'boolean', help: 'validate on the hub and show the diff, change nothing' },
  since: {
    type: 'string',
    value: 'REV',
    expects: 'a revision, e.g. --since 40',
    help: 'only changes after this revision, oldest first',
  },
  limit: {
    type: 'string',
    value: 'N',
    expects: 'a number of entries, e.g. --limit 20',
    help: 'at most N (1-1000) [100]: the newest, or the first N after --since',
  },
  region: {
    short: 'r',
    type: 'string',
    value: 'REGION',
    expects: 'a region name, e.g. -r eu-west',
    help: 'one region only',
  },
  watch: { short: 'w', type: 'boolean', help: 'keep printing as it changes (Ctrl-C ends)' },
  help: { short: 'h', type: 'boolean', help: 'show help' },
  version: { type: 'boolean', help: "print fedmeshctl's version" },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;

export interface ParsedArgs {
  values: {
    server?: string;
    token?: string;
    namespace?: string;
    output?: string;
    filename?: string[];
    'dry-run'?: boolean;
    since?: string;
    limit?: string;
    region?: string;
    watch?: boolean;
    help?: boolean;
    version?: boolean;
  };
  positionals: string[];
  /** Options as the user spelled them (`-n`, `--namespace`), for "ignored" notes. */
  given: OptionName[];
}

const BY_SHORT = new Map<string, OptionName>(
  Object.entries(OPTIONS).flatMap(([name, spec]) =>
    'short' in spec ? [[spec.short as string, name as OptionName] as const] : [],
  ),
);

/** `-n/--namespace`, as messages name a flag. */
export function flagName(name: OptionName): string {
  const spec: OptionSpec = OPTIONS[name];
  return spec.short ? `-${spec.short}/--${name}` : `--${name}`;
}

/**
 * kubectl-style arguments: `--flag value`, `--flag=value`, `-f value`, `-fvalue`, booleans
 * alone (or `=true|false`), `--` ends the options. Every mistake is a UsageError naming the flag
 * and what it expects; a value is never taken from something that is itself a flag.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values: Record<string, string | string[] | boolean> = {};
  const positionals: string[] = [];
  const given: OptionName[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-' || !arg.startsWith('-')) {
      positionals.push(arg);
      continue;
    }
    let name: OptionName | undefined;
    let inline: string | undefined;
    let spelled: string;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      spelled = eq < 0 ? arg : arg.slice(0, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      const long = spelled.slice(2);
      if (Object.hasOwn(OPTIONS, long)) name = long as OptionName;
    } else {
      spelled = arg.slice(0, 2);
      name = BY_SHORT.get(arg[1]!);
      if (arg.length > 2) inline = arg[2] === '=' ? arg.slice(3) : arg.slice(2);
    }
    if (!name) throw unknownFlag(spelled);
    const spec: OptionSpec = OPTIONS[name];
    given.push(name);
    if (spec.type === 'boolean') {
      if (inline === undefined || inline === 'true') values[name] = true;
      else if (inline === 'false') values[name] = false;
      else if (!arg.startsWith('--')) throw unknownFlag(arg);
      else throw new UsageError(`${spelled} takes no value (or =true / =false), not "${inline}"`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined) throw needsValue(name, spelled);
      // `-f -` is stdin; anything else that starts with "-" is the next flag, not a value.
      if (next.startsWith('-') && next !== '-') throw needsValue(name, spelled, next);
      value = next;
      i++;
    }
    if (spec.multiple) values[name] = [...((values[name] as string[] | undefined) ?? []), value];
    else values[name] = value;
  }
  return { values: values as ParsedArgs['values'], positionals, given };
}

function needsValue(name: OptionName, spelled: string, next?: string): UsageError {
  const spec: OptionSpec = OPTIONS[name];
  const what = spec.expects ? `: ${spec.expects}` : '';
  const followed = next ? ` (found ${next} instead)` : '';
  return new UsageError(`${spelled} needs a value${what}${followed}`);
}

function unknownFlag(spelled: string): UsageError {
  const typed = spelled.replace(/^-+/, '');
  const near = spelled.startsWith('--') ? closestMatch(typed, Object.keys(OPTIONS)) : undefined;
  return new UsageError(`unknown flag ${spelled}${near ? `; did you mean --${near}?` : ''}`);
}

/** `--limit`: a whole number within bounds, or a UsageError saying so. */
export function wholeNumber(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

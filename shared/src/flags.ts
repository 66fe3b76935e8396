import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseByteRate, parseByteSize, parseDuration } from './model/index.js';

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
  const { values } = parseArgs({
    args: opts.argv,
    options: {
      ...Object.fromEntries(Object.keys(opts.flags).map((k) => [k, { type: 'string' as const }])),
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return { help: true };
  const raw: Record<string, unknown> = { ...opts.extra };
  for (const [flag, envName] of Object.entries(opts.flags)) {
    const v = (values as Record<string, unknown>)[flag] ?? opts.env[envName];
    if (v !== undefined && v !== '') raw[camel(flag)] = v;
  }
  const r = opts.schema.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues.map((i) => `--${kebab(String(i.path[0] ?? ''))}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${msg}`);
  }
  return { help: false, config: Object.freeze(r.data as z.output<S>) };
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

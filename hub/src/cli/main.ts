import { BUILD, closestMatch } from '@fedmesh/shared';
import { flagName, OPTIONS, type OptionName, type OptionSpec, parseArgs, UsageError } from './args.js';
import { ApiError, ConnectError, createClient, type HubClient } from './client.js';
import { type CliIo, COMMAND_ALIASES, COMMANDS, type CommandSpec, type Ctx } from './commands.js';
import { KIND_HELP } from './kinds.js';
import { ManifestError } from './manifests.js';
import { formatIssues } from './output.js';
import { resolveServer } from './target.js';

export type { CliIo } from './commands.js';

/** Flags every command takes. */
const GLOBAL: readonly OptionName[] = ['server', 'token', 'help'];

function optionLine(name: OptionName): string {
  const spec: OptionSpec = OPTIONS[name];
  const flag = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`;
  return `  ${flag.padEnd(25)} ${spec.help}`;
}

export const CTL_HELP = `fedmeshctl — manage a fedmesh hub

Usage: fedmeshctl <command> [options]

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.brief[0].padEnd(36)} ${c.brief[1]}`)
  .join('\n')}
  ${'help [COMMAND]'.padEnd(36)} a command's options and examples

Options (each command takes those it needs; fedmeshctl help COMMAND lists them):
${(Object.keys(OPTIONS) as OptionName[]).map(optionLine).join('\n')}

${wrap(`Kinds: ${KIND_HELP}.`, 100, '  ')}
The hub: --server or FEDMESH_SERVER; HOST:PORT means http://HOST:PORT. npm run demo prints
the export line to copy.
Exit status: 0 success, 1 failure (the hub's message is printed), 2 usage error;
diff: 1 means differences.`;

/** Breaks `text` at spaces so that no line is longer than `width`. */
function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = indent + word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join('\n');
}

function commandHelp(name: string, spec: CommandSpec): string {
  const lines = [`fedmeshctl ${spec.usage}`, '', spec.summary, '', 'Options:'];
  for (const o of [...spec.options, ...GLOBAL]) lines.push(optionLine(o));
  if (spec.options.includes('namespace') && name !== 'get') {
    lines.push('', 'Without -n: FEDMESH_NAMESPACE, else "default".');
  }
  if (spec.examples?.length) lines.push('', 'Examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** Runs one command; returns the exit status. Never throws and never calls process.exit. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let command: string | undefined;
  try {
    const parsed = parseArgs(argv);
    const { values } = parsed;
    const [first, ...args] = parsed.positionals;
    command = first === undefined ? undefined : (COMMAND_ALIASES[first] ?? first);
    if (values.version) {
      io.stdout(`fedmeshctl ${BUILD.version}\n`);
      return 0;
    }
    if (command === undefined || command === 'help') {
      const topic = command === 'help' ? args[0] : undefined;
      if (topic !== undefined) {
        const spec = COMMANDS[COMMAND_ALIASES[topic] ?? topic];
        if (!spec) throw unknownCommand(topic);
        io.stdout(`${commandHelp(topic, spec)}\n`);
        return 0;
      }
      io.stdout(`${CTL_HELP}\n`);
      return values.help || command === 'help' ? 0 : 2;
    }
    const spec = COMMANDS[command];
    if (!spec) throw unknownCommand(command);
    if (values.help) {
      io.stdout(`${commandHelp(command, spec)}\n`);
      return 0;
    }
    const ignored = [...new Set(parsed.given)].filter(
      (o) => !spec.options.includes(o) && !GLOBAL.includes(o) && o !== 'version',
    );
    for (const o of ignored) io.stderr(`fedmeshctl: note: ${command} does not use ${flagName(o)}; ignored\n`);

    let client: HubClient | undefined;
    const nsFlag = values.namespace;
    const nsEnv = io.env.FEDMESH_NAMESPACE || undefined;
    const ctx: Ctx = {
      args,
      values,
      io,
      namespace: {
        value: nsFlag ?? nsEnv ?? 'default',
        explicit: nsFlag !== undefined,
        given: (nsFlag ?? nsEnv) !== undefined,
      },
      client: () => {
        if (client) return client;
        const target = resolveServer(values.server, io.env.FEDMESH_SERVER);
        const token = values.token ?? (io.env.FEDMESH_TOKEN || undefined);
        client = createClient({
          server: target.url,
          source: target.source,
          ...(token ? { token } : {}),
          ...(io.fetch ? { fetch: io.fetch } : {}),
          ...(io.signal ? { signal: io.signal } : {}),
        });
        return client;
      },
    };
    return await spec.run(ctx);
  } catch (err) {
    if (io.signal?.aborted) return 130;
    // An argument mistake is found before the command is known; point at its help all the same.
    command ??= argv.find((a) => !a.startsWith('-'));
    if (err instanceof UsageError && !err.command && command && COMMANDS[command]) {
      return report(new UsageError(err.message, command), io, command);
    }
    return report(err, io, command);
  }
}

function unknownCommand(command: string): UsageError {
  const near = closestMatch(command, [...Object.keys(COMMANDS), ...Object.keys(COMMAND_ALIASES), 'help']);
  return new UsageError(`unknown command ${command}${near ? `; did you mean ${near}?` : ''}`);
}

function report(err: unknown, io: CliIo, command: string | undefined): number {
  const failure = command === 'diff' ? 2 : 1;
  if (err instanceof UsageError) {
    const help = err.command ? `fedmeshctl ${err.command} --help` : 'fedmeshctl --help';
    io.stderr(`fedmeshctl: ${err.message}\nRun ${help} for usage.\n`);
    return 2;
  }
  if (err instanceof ApiError) {
    const lines = [`error: ${err.message} (HTTP ${err.status}, ${err.code})`];
    // The message already names a single issue; several get a line each.
    if (err.issues.length > 1) lines.push(...formatIssues(err.issues));
    if (err.hint) lines.push(`  ${err.hint}`);
    io.stderr(`${lines.join('\n')}\n`);
    return failure;
  }
  if (err instanceof ConnectError) {
    io.stderr(`error: ${err.message}\n${err.hint ? `  ${err.hint}\n` : ''}`);
    return failure;
  }
  if (err instanceof ManifestError) {
    io.stderr(`error: ${err.message}\n`);
    return failure;
  }
  io.stderr(`error: ${(err as Error)?.message ?? String(err)}\n`);
  return failure;
}

/** The bin's entry: real stdio, Ctrl-C, and the process exit status. */
export async function main(argv: string[]): Promise<void> {
  const interrupted = new AbortController();
  const onSigint = () => {
    // A second Ctrl-C does not wait for anything.
    if (interrupted.signal.aborted) process.exit(130);
    interrupted.abort();
  };
  process.on('SIGINT', onSigint);
  const code = await runCli(argv, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    signal: interrupted.signal,
  });
  process.off('SIGINT', onSigint);
  process.exitCode = code;
}

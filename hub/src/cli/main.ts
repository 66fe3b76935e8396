import { parseArgs } from 'node:util';
import { BUILD } from '@fedmesh/shared';
import type { ApplyResponse } from '../api/apply.js';
import type { ProxySummary, RegionSummary } from '../api/regions.js';
import type { AuditEntry } from '../audit/index.js';
import { ApiError, ConnectError, createClient, type HubClient } from './client.js';
import { KIND_HELP, namespaceFor, resolveKind } from './kinds.js';
import { ManifestError, readManifests } from './manifests.js';
import {
  formatApply,
  formatChanges,
  formatHistory,
  formatIssues,
  formatProxies,
  formatRegions,
  formatResources,
  type HistoryItem,
  OutputFormat,
  type StoredManifest,
} from './output.js';

export const CTL_HELP = `fedmeshctl — manage a fedmesh hub

Usage: fedmeshctl <command> [options]

Commands:
  apply -f FILE|DIR|- [--dry-run]      create or update resources from YAML/JSON (many documents per file)
  diff -f FILE|DIR|-                   show what apply would change (exit 0: none, 1: differences)
  get KIND [NAME] [-n NS] [-o FORMAT]  show resources (without NAME: all of a kind; without -n: all namespaces)
  delete KIND NAME [-n NS]             delete a resource
  history KIND NAME [-n NS]            past writes of a resource and who made them
  changes [--since REV] [--limit N]    the audit log: every write through the API
  regions [-o FORMAT]                  sync status of every region
  proxies [-r REGION] [-o FORMAT]      the node proxies of every region (or one): SYNCED, STALE or NACKED

Options:
  --server URL       hub admin API             FEDMESH_SERVER  [http://127.0.0.1:8080]
  --token TOKEN      bearer token              FEDMESH_TOKEN
  -n, --namespace NS namespace                 FEDMESH_NAMESPACE [default]
  -o, --output FMT   table | yaml | json       [table]
  -f, --filename P   file, directory or - (stdin); repeatable
  -r, --region R     proxies: one region only
  --dry-run          apply: validate and show the diff, change nothing
  -h, --help         show this help
  --version          print the version

Kinds: ${KIND_HELP}
Exit status: 0 success, 1 failure (the hub's message is printed), 2 usage error; diff: 1 means differences.`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  readStdin: () => Promise<string>;
  fetch?: typeof fetch;
}

class UsageError extends Error {}

const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  output: { type: 'string', short: 'o' },
  filename: { type: 'string', short: 'f', multiple: true },
  'dry-run': { type: 'boolean' },
  since: { type: 'string' },
  limit: { type: 'string' },
  region: { type: 'string', short: 'r' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Runs one command; returns the exit status. Never throws and never calls process.exit. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let values: Values;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: [...argv],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }));
  } catch (err) {
    io.stderr(`fedmeshctl: ${(err as Error).message}\nRun fedmeshctl --help for usage.\n`);
    return 2;
  }
  const [command, ...args] = positionals;
  if (values.version) {
    io.stdout(`fedmeshctl ${BUILD.version}\n`);
    return 0;
  }
  if (values.help || !command || command === 'help') {
    io.stdout(`${CTL_HELP}\n`);
    return values.help || command === 'help' ? 0 : 2;
  }
  const client = createClient({
    server: values.server ?? io.env.FEDMESH_SERVER ?? 'http://127.0.0.1:8080',
    ...((values.token ?? io.env.FEDMESH_TOKEN) ? { token: values.token ?? io.env.FEDMESH_TOKEN } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
  });
  const ctx = { client, values, args, io, namespace: values.namespace ?? io.env.FEDMESH_NAMESPACE };
  try {
    const cmd = COMMANDS[command];
    if (!cmd) throw new UsageError(`unknown command "${command}"`);
    return await cmd(ctx);
  } catch (err) {
    return report(err, io, command === 'diff' ? 2 : 1);
  }
}

interface Ctx {
  client: HubClient;
  values: Values;
  args: string[];
  io: CliIo;
  namespace: string | undefined;
}

const COMMANDS: Record<string, (ctx: Ctx) => Promise<number>> = {
  apply: (ctx) => apply(ctx, ctx.values['dry-run'] === true, false),
  diff: (ctx) => apply(ctx, true, true),
  get: async ({ client, values, args, io, namespace }) => {
    const format = outputFormat(values.output);
    const [kindArg, name, ...rest] = args;
    noMore(rest);
    const kind = kindOf(kindArg);
    if (name === undefined) {
      const q = new URLSearchParams({ kind });
      const ns = namespace !== undefined ? namespaceFor(kind, namespace, namespace) : undefined;
      if (ns !== undefined) q.set('namespace', ns);
      const { body } = await client.request<{ items: StoredManifest[] }>('GET', `/v1/resources?${q}`);
      io.stdout(formatResources(body.items, format, false));
      return 0;
    }
    const { body } = await client.request<StoredManifest>(
      'GET',
      resourcePath(kind, namespaceFor(kind, namespace, 'default'), name),
    );
    io.stdout(formatResources([body], format, true));
    return 0;
  },
  delete: async ({ client, args, io, namespace }) => {
    const [kindArg, name, ...rest] = args;
    noMore(rest);
    const kind = kindOf(kindArg);
    if (!name) throw new UsageError('delete needs KIND NAME');
    const ns = namespaceFor(kind, namespace, 'default');
    const { body } = await client.request<{ revision: number }>('DELETE', resourcePath(kind, ns, name));
    io.stdout(`${kind} ${ns === '_' ? name : `${ns}/${name}`} deleted (revision ${body.revision})\n`);
    return 0;
  },
  history: async ({ client, values, args, io, namespace }) => {
    const [kindArg, name, ...rest] = args;
    noMore(rest);
    const kind = kindOf(kindArg);
    if (!name) throw new UsageError('history needs KIND NAME');
    const path = `${resourcePath(kind, namespaceFor(kind, namespace, 'default'), name)}/history`;
    const { body } = await client.request<{ items: HistoryItem[] }>('GET', path);
    io.stdout(formatHistory(body.items, outputFormat(values.output)));
    return 0;
  },
  changes: async ({ client, values, args, io }) => {
    noMore(args);
    const q = new URLSearchParams();
    if (values.since !== undefined) q.set('since', values.since);
    if (values.limit !== undefined) q.set('limit', values.limit);
    const { body } = await client.request<{ items: AuditEntry[] }>(
      'GET',
      `/v1/changes${q.size ? `?${q}` : ''}`,
    );
    io.stdout(formatChanges(body.items, outputFormat(values.output)));
    return 0;
  },
  proxies: async ({ client, values, args, io }) => {
    noMore(args);
    const regions = values.region
      ? [values.region]
      : (await client.request<{ items: RegionSummary[] }>('GET', '/v1/regions')).body.items.map(
          (r) => r.region,
        );
    const items: ProxySummary[] = [];
    for (const region of regions) {
      const { body } = await client.request<{ items: ProxySummary[] }>(
        'GET',
        `/v1/regions/${encodeURIComponent(region)}/proxies`,
      );
      items.push(...body.items);
    }
    io.stdout(formatProxies(items, outputFormat(values.output)));
    return 0;
  },
  regions: async ({ client, values, args, io }) => {
    noMore(args);
    const { body } = await client.request<{ items: RegionSummary[] }>('GET', '/v1/regions');
    io.stdout(formatRegions(body.items, outputFormat(values.output)));
    return 0;
  },
};
COMMANDS.audit = COMMANDS.changes!;

async function apply({ client, values, args, io }: Ctx, dryRun: boolean, diffOnly: boolean): Promise<number> {
  noMore(args);
  const files = values.filename ?? [];
  if (files.length === 0) throw new UsageError(`${diffOnly ? 'diff' : 'apply'} needs -f FILE|DIR|-`);
  const docs = await readManifests(files, io.readStdin);
  if (docs.length === 0) throw new UsageError('no documents found');
  const { status, body } = await client.request<ApplyResponse>(
    'POST',
    `/v1/apply${dryRun ? '?dryRun=true' : ''}`,
    {
      body: { items: docs.map((d) => d.doc) },
      okStatuses: [400, 409, 503],
    },
  );
  const sources = docs.map((d) => d.source);
  const text = formatApply(body, sources, { diffOnly });
  if (status >= 400) {
    io.stderr(text);
    return diffOnly ? 2 : 1;
  }
  io.stdout(text);
  if (diffOnly) return body.summary.created + body.summary.updated > 0 ? 1 : 0;
  return 0;
}

function report(err: unknown, io: CliIo, code: number): number {
  if (err instanceof UsageError) {
    io.stderr(`fedmeshctl: ${err.message}\nRun fedmeshctl --help for usage.\n`);
    return 2;
  }
  if (err instanceof ApiError) {
    const lines = [`error: ${err.message} (HTTP ${err.status}, ${err.code})`];
    // The message already names a single issue; several get a line each.
    if (err.issues.length > 1) lines.push(...formatIssues(err.issues));
    io.stderr(`${lines.join('\n')}\n`);
    return code;
  }
  if (err instanceof ConnectError || err instanceof ManifestError) {
    io.stderr(`error: ${err.message}\n`);
    return code;
  }
  io.stderr(`error: ${(err as Error)?.message ?? String(err)}\n`);
  return code;
}

function kindOf(arg: string | undefined) {
  if (!arg) throw new UsageError(`missing KIND (${KIND_HELP})`);
  const kind = resolveKind(arg);
  if (!kind) throw new UsageError(`unknown kind "${arg}" (${KIND_HELP})`);
  return kind;
}

function outputFormat(v: string | undefined): OutputFormat {
  if (v === undefined) return OutputFormat.Table;
  if ((Object.values(OutputFormat) as string[]).includes(v)) return v as OutputFormat;
  throw new UsageError(`-o must be table, yaml or json, not "${v}"`);
}

function noMore(rest: string[]): void {
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
}

function resourcePath(kind: string, namespace: string, name: string): string {
  return `/v1/resources/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

/** The bin's entry: real stdio and process exit status. */
export async function main(argv: string[]): Promise<void> {
  const code = await runCli(argv, {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const c of process.stdin) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  });
  process.exitCode = code;
}

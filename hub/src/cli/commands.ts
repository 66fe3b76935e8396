import {
  BUILD,
  CLUSTER_NAMESPACE,
  isClusterScoped,
  isDnsLabel,
  type Kind,
  validateManifest,
} from '@fedmesh/shared';
import { flagName, type OptionName, type ParsedArgs, UsageError, wholeNumber } from './args.js';
import { ApiError, ConnectError, type HubClient } from './client.js';
import { KIND_HELP, namespaceFor, resolveKind, suggestKind } from './kinds.js';
import { readManifests, type SourceDocument, withNamespace } from './manifests.js';
import {
  describeItem,
  formatApply,
  formatChanges,
  formatHistory,
  formatJson,
  formatPreview,
  formatProxies,
  formatRegions,
  formatResources,
  formatValidation,
  formatYamlDocuments,
  OutputFormat,
  type PreviewRow,
  type ValidationRow,
} from './output.js';
import type {
  ApplyResponse,
  ChangeEntry,
  ChangesResponse,
  Health,
  HistoryItem,
  ProxySummary,
  RegionPreview,
  RegionSummary,
  StoredManifest,
} from './types.js';
import { followChanges } from './watch.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  readStdin: () => Promise<string>;
  fetch?: typeof fetch;
  /** Aborts on Ctrl-C: `get --watch` ends with status 0, anything else with 130. */
  signal?: AbortSignal;
  /** How often `get --watch` asks the hub for changes (default 1 s). */
  watchIntervalMs?: number;
}

export interface Ctx {
  args: string[];
  values: ParsedArgs['values'];
  io: CliIo;
  /** `-n`, else FEDMESH_NAMESPACE, else `default`; `explicit` when `-n` was on the command line. */
  namespace: { value: string; explicit: boolean; given: boolean };
  /** The hub's client, made on first use: `validate` never needs one, so never fails for one. */
  client: () => HubClient;
}

export interface CommandSpec {
  usage: string;
  /** The usage and summary in the command list of `--help`, which fits 100 columns. */
  brief: [usage: string, summary: string];
  summary: string;
  /** The flags it reads besides --server, --token and --help. */
  options: readonly OptionName[];
  examples?: readonly string[];
  run: (ctx: Ctx) => Promise<number>;
}

const READ = ['output'] as const;

export const COMMANDS: Record<string, CommandSpec> = {
  apply: {
    usage: 'apply -f FILE|DIR|- [-n NS] [--dry-run]',
    brief: ['apply -f FILE|DIR|- [--dry-run]', 'create or update resources from YAML/JSON files'],
    summary: 'create or update resources from YAML/JSON (many documents per file)',
    options: ['filename', 'namespace', 'dry-run'],
    examples: ['fedmeshctl apply -f deploy/examples/', 'fedmeshctl apply -f payments.yaml -n shop --dry-run'],
    run: (ctx) => apply(ctx, ctx.values['dry-run'] === true, false),
  },
  diff: {
    usage: 'diff -f FILE|DIR|- [-n NS]',
    brief: ['diff -f FILE|DIR|-', 'what apply would change (exit 1: differences)'],
    summary: 'show what apply would change (exit 0: none, 1: differences)',
    options: ['filename', 'namespace'],
    run: (ctx) => apply(ctx, true, true),
  },
  preview: {
    usage: 'preview -f FILE|DIR|- [-r REGION] [-n NS] [-o FORMAT]',
    brief: ['preview -f FILE|DIR|- [-r REGION]', 'what each region would receive: ops, bytes, line time'],
    summary: "what each region would receive: the ops, their bytes, their time at the region's budget",
    options: ['filename', 'region', 'namespace', ...READ],
    examples: ['fedmeshctl preview -f payments-v3.yaml', 'fedmeshctl preview -f payments-v3.yaml -r eu-west'],
    run: preview,
  },
  validate: {
    usage: 'validate -f FILE|DIR|- [-n NS] [-o FORMAT]',
    brief: ['validate -f FILE|DIR|-', 'check manifests offline, no hub needed'],
    summary: 'check manifests offline against the schemas (no hub needed; exit 1 when invalid)',
    options: ['filename', 'namespace', ...READ],
    examples: ['fedmeshctl validate -f deploy/examples/'],
    run: validate,
  },
  get: {
    usage: 'get KIND [NAME] [-n NS] [-o FORMAT] [-w]',
    brief: ['get KIND [NAME] [-w]', 'show resources; -w follows their changes'],
    summary: 'show resources (without NAME: all of a kind; without -n: all namespaces)',
    options: ['namespace', 'watch', ...READ],
    examples: [
      'fedmeshctl get svc -n shop',
      'fedmeshctl get svc payments -n shop -o yaml',
      'fedmeshctl get ep -n shop --watch',
    ],
    run: get,
  },
  delete: {
    usage: 'delete KIND NAME [-n NS]',
    brief: ['delete KIND NAME', 'delete a resource'],
    summary: 'delete a resource',
    options: ['namespace'],
    run: remove,
  },
  history: {
    usage: 'history KIND NAME [-n NS] [-o FORMAT]',
    brief: ['history KIND NAME', 'past writes of a resource and who made them'],
    summary: 'past writes of a resource and who made them',
    options: ['namespace', ...READ],
    run: history,
  },
  changes: {
    usage: 'changes [--limit N] [--since REV] [-o FORMAT]',
    brief: ['changes [--limit N] [--since REV]', 'the audit log: the newest N writes, or the N after REV'],
    summary: 'the audit log: every write through the API (the newest N, or the first N after REV)',
    options: ['since', 'limit', ...READ],
    examples: ['fedmeshctl changes --limit 5', 'fedmeshctl changes --since 40'],
    run: changes,
  },
  regions: {
    usage: 'regions [-o FORMAT]',
    brief: ['regions', 'sync status of every region (-o wide: every column)'],
    summary: 'sync status of every region (-o wide: every column)',
    options: [...READ],
    run: regions,
  },
  proxies: {
    usage: 'proxies [-r REGION] [-o FORMAT]',
    brief: ['proxies [-r REGION]', 'node proxies per region: SYNCED, STALE or NACKED'],
    summary: 'the node proxies of every region (or one): SYNCED, STALE or NACKED',
    options: ['region', ...READ],
    run: proxies,
  },
  version: {
    usage: 'version [-o FORMAT]',
    brief: ['version', "fedmeshctl's version and the hub's"],
    summary: "fedmeshctl's version and, when it answers, the hub's",
    options: [...READ],
    run: version,
  },
};
/** Old names that keep working. */
export const COMMAND_ALIASES: Record<string, string> = { audit: 'changes' };

async function apply(ctx: Ctx, dryRun: boolean, diffOnly: boolean): Promise<number> {
  const { args, io } = ctx;
  noMore(args, diffOnly ? 'diff' : 'apply');
  const docs = await manifests(ctx, diffOnly ? 'diff' : 'apply');
  const { status, body } = await ctx
    .client()
    .request<ApplyResponse>('POST', `/v1/apply${dryRun ? '?dryRun=true' : ''}`, {
      body: { items: docs.map((d) => d.doc) },
      okStatuses: [400, 409, 503],
    });
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

async function get(ctx: Ctx): Promise<number> {
  const { values, args, io } = ctx;
  const format = outputFormat(values.output);
  const [kindArg, name, ...rest] = args;
  noMore(rest, 'get');
  const kind = kindOf(kindArg, 'get');
  const client = ctx.client();
  if (name !== undefined) checkName(name, 'get');
  const ns = name === undefined ? listNamespace(ctx, kind) : namespaceFor(kind, nsValue(ctx), 'default');

  const fetchNow = async (): Promise<StoredManifest[] | undefined> => {
    if (name === undefined) {
      const q = new URLSearchParams({ kind });
      if (ns !== undefined) q.set('namespace', ns);
      return (await client.request<{ items: StoredManifest[] }>('GET', `/v1/resources?${q}`)).body.items;
    }
    try {
      return [(await client.request<StoredManifest>('GET', resourcePath(kind, ns!, name))).body];
    } catch (err) {
      if (values.watch && err instanceof ApiError && err.status === 404) return undefined;
      throw withNotFoundHint(err, ctx, kind);
    }
  };
  const print = (items: StoredManifest[] | undefined, again: boolean) => {
    if (items === undefined) {
      io.stderr(`${describeItem({ kind, namespace: ns, name })} does not exist (yet); watching for it\n`);
      return;
    }
    if (format === OutputFormat.Yaml) io.stdout(`${again ? '---\n' : ''}${formatYamlDocuments(items)}`);
    else io.stdout(formatResources(items, format, name !== undefined));
  };

  if (!values.watch) {
    print(await fetchNow(), false);
    return 0;
  }
  let rendered = false;
  try {
    await followChanges({
      client,
      ...(io.signal ? { signal: io.signal } : {}),
      intervalMs: io.watchIntervalMs ?? 1000,
      matches: (e) =>
        e.kind === kind &&
        (ns === undefined || e.namespace === ns) &&
        (name === undefined || e.name === name),
      render: async (seen) => {
        const table = format === OutputFormat.Table || format === OutputFormat.Wide;
        if (table && rendered) io.stdout('\n');
        if (table) for (const e of seen) io.stdout(`${describeChange(e)}\n`);
        print(await fetchNow(), rendered);
        rendered = true;
      },
    });
  } catch (err) {
    if (io.signal?.aborted) return 0;
    throw err;
  }
  return 0;
}

/** `revision 42: update Service shop/payments by ops`. */
function describeChange(e: ChangeEntry): string {
  return `revision ${e.revision}: ${e.op} ${describeItem(e)} by ${e.actor}`;
}

async function remove(ctx: Ctx): Promise<number> {
  const [kindArg, name, ...rest] = ctx.args;
  noMore(rest, 'delete');
  const kind = kindOf(kindArg, 'delete');
  if (!name)
    throw new UsageError('delete needs KIND NAME, e.g. fedmeshctl delete svc payments -n shop', 'delete');
  checkName(name, 'delete');
  const ns = namespaceFor(kind, nsValue(ctx), 'default');
  try {
    const { body } = await ctx.client().request<{ revision: number }>('DELETE', resourcePath(kind, ns, name));
    ctx.io.stdout(`${describeItem({ kind, namespace: ns, name })} deleted (revision ${body.revision})\n`);
  } catch (err) {
    throw withNotFoundHint(err, ctx, kind);
  }
  return 0;
}

async function history(ctx: Ctx): Promise<number> {
  const [kindArg, name, ...rest] = ctx.args;
  noMore(rest, 'history');
  const kind = kindOf(kindArg, 'history');
  if (!name)
    throw new UsageError('history needs KIND NAME, e.g. fedmeshctl history svc payments -n shop', 'history');
  checkName(name, 'history');
  const format = outputFormat(ctx.values.output);
  const path = `${resourcePath(kind, namespaceFor(kind, nsValue(ctx), 'default'), name)}/history`;
  try {
    const { body } = await ctx.client().request<{ items: HistoryItem[] }>('GET', path);
    ctx.io.stdout(formatHistory(body.items, format));
  } catch (err) {
    throw withNotFoundHint(err, ctx, kind);
  }
  return 0;
}

/**
 * Without --since, the newest entries (a user asking for 3 wants the last 3); with it, the
 * first ones after that revision, to page on. Either way printed oldest first, like a log.
 */
async function changes(ctx: Ctx): Promise<number> {
  const { values, args, io } = ctx;
  noMore(args, 'changes');
  const format = outputFormat(values.output);
  const q = new URLSearchParams();
  if (values.since !== undefined)
    q.set('since', String(wholeNumber(values.since, '--since', 0, Number.MAX_SAFE_INTEGER)));
  if (values.limit !== undefined) q.set('limit', String(wholeNumber(values.limit, '--limit', 1, 1000)));
  if (values.since === undefined) q.set('order', 'desc');
  const { body } = await ctx.client().request<ChangesResponse>('GET', `/v1/changes?${q}`);
  // Sorting also reads a hub older than `order` right: it answered oldest first.
  const items = [...body.items].sort((a, b) => a.revision - b.revision);
  const last = items.at(-1)?.revision ?? body.next;
  if (format === OutputFormat.Json) io.stdout(formatJson({ items, next: last }));
  else io.stdout(formatChanges(items, format));
  return 0;
}

async function regions(ctx: Ctx): Promise<number> {
  noMore(ctx.args, 'regions');
  const format = outputFormat(ctx.values.output);
  const { body } = await ctx.client().request<{ items: RegionSummary[] }>('GET', '/v1/regions');
  ctx.io.stdout(formatRegions(body.items, format));
  return 0;
}

async function proxies(ctx: Ctx): Promise<number> {
  const { values, args, io } = ctx;
  noMore(args, 'proxies');
  const format = outputFormat(values.output);
  const client = ctx.client();
  const names = values.region
    ? [regionName(values.region)]
    : (await client.request<{ items: RegionSummary[] }>('GET', '/v1/regions')).body.items.map(
        (r) => r.region,
      );
  const items: ProxySummary[] = [];
  for (const region of names) {
    const { body } = await client.request<{ items: ProxySummary[] }>(
      'GET',
      `/v1/regions/${encodeURIComponent(region)}/proxies`,
    );
    items.push(...body.items);
  }
  io.stdout(formatProxies(items, format));
  return 0;
}

async function preview(ctx: Ctx): Promise<number> {
  const { values, args, io } = ctx;
  noMore(args, 'preview');
  const format = outputFormat(values.output);
  const docs = await manifests(ctx, 'preview');
  const client = ctx.client();
  const summaries = values.region
    ? [
        (
          await client.request<RegionSummary>(
            'GET',
            `/v1/regions/${encodeURIComponent(regionName(values.region))}`,
          )
        ).body,
      ]
    : (await client.request<{ items: RegionSummary[] }>('GET', '/v1/regions')).body.items;
  const rows: PreviewRow[] = [];
  for (const summary of summaries) {
    const { status, body } = await client.request<RegionPreview>(
      'POST',
      `/v1/regions/${encodeURIComponent(summary.region)}/preview`,
      { body: { items: docs.map((d) => d.doc) }, okStatuses: [400] },
    );
    if (status === 400) {
      io.stderr(invalidDocuments(body, docs));
      return 1;
    }
    const budget = summary.line.budgetBytesPerSecond ?? summary.budget.bytesPerSecond;
    rows.push({
      ...body,
      budgetBytesPerSecond: budget,
      seconds: budget ? body.encodedBytes / budget : null,
    });
  }
  io.stdout(formatPreview(rows, format));
  return 0;
}

/** A 400 from preview names fields as `documents.<i>.<path>`: turned back into files and lines. */
function invalidDocuments(body: unknown, docs: readonly SourceDocument[]): string {
  const error = (body as { error?: { message?: string; issues?: { path: string; message: string }[] } })
    .error;
  const lines = [`error: ${error?.message ?? 'invalid manifests'} (HTTP 400)`];
  for (const issue of error?.issues ?? []) {
    const m = /^documents\.(\d+)\.?(.*)$/.exec(issue.path);
    const source = m ? docs[Number(m[1])]?.source : undefined;
    lines.push(
      `    ${source ? `${source}: ` : ''}${(m ? m[2] : issue.path) || '(document)'}: ${issue.message}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Offline: the same schemas the hub validates with (@fedmesh/shared), no server needed. */
async function validate(ctx: Ctx): Promise<number> {
  const { values, args, io } = ctx;
  noMore(args, 'validate');
  const format = outputFormat(values.output);
  const docs = await manifests(ctx, 'validate');
  const seen = new Map<string, string>();
  const rows: ValidationRow[] = docs.map(({ source, doc }) => {
    const result = validateManifest(doc);
    if (!result.ok) return { source, ...identity(doc), valid: false, issues: result.issues };
    const r = result.resource;
    const namespace = r.metadata.namespace ?? CLUSTER_NAMESPACE;
    const key = `${r.kind}/${namespace}/${r.metadata.name}`;
    const row: ValidationRow = {
      source,
      kind: r.kind,
      namespace,
      name: r.metadata.name,
      valid: true,
      issues: [],
    };
    const first = seen.get(key);
    if (first !== undefined) {
      row.valid = false;
      row.issues = [
        { path: 'metadata.name', message: `duplicates ${first}: the hub refuses a request with both` },
      ];
    } else seen.set(key, source);
    return row;
  });
  const text = formatValidation(rows, format);
  const ok = rows.every((r) => r.valid);
  if (ok) io.stdout(text);
  else io.stderr(text);
  return ok ? 0 : 1;
}

async function version(ctx: Ctx): Promise<number> {
  noMore(ctx.args, 'version');
  const format = outputFormat(ctx.values.output);
  const client = ctx.client();
  let server: { version: string | null; url: string } | { error: string; hint?: string };
  try {
    const { body } = await client.request<Health>('GET', '/healthz', { okStatuses: [503] });
    server = { version: body?.build?.version ?? null, url: client.server };
  } catch (err) {
    if (!(err instanceof ConnectError || err instanceof ApiError)) throw err;
    server = { error: err.message, ...(err instanceof ConnectError && err.hint ? { hint: err.hint } : {}) };
  }
  if (format === OutputFormat.Json || format === OutputFormat.Yaml) {
    const doc = { client: { version: BUILD.version }, server };
    ctx.io.stdout(format === OutputFormat.Json ? formatJson(doc) : formatYamlDocuments([doc]));
  } else {
    ctx.io.stdout(`client: fedmeshctl ${BUILD.version}\n`);
    if ('error' in server) {
      ctx.io.stderr(`server: not reachable: ${server.error}\n${server.hint ? `  ${server.hint}\n` : ''}`);
    } else {
      ctx.io.stdout(`server: fedmesh-hub ${server.version ?? '(version not reported)'} at ${server.url}\n`);
    }
  }
  // The client's version is what was asked for; a hub that is down is said, not a failure.
  return 0;
}

/** -f files, read and given the namespace of -n where they have none. */
async function manifests(ctx: Ctx, command: string): Promise<SourceDocument[]> {
  const files = ctx.values.filename ?? [];
  if (files.length === 0)
    throw new UsageError(`${command} needs -f FILE|DIR|- (the manifests; - reads stdin)`, command);
  const docs = await readManifests(files, ctx.io.readStdin);
  if (docs.length === 0) throw new UsageError(`no documents found in ${files.join(', ')}`, command);
  return withNamespace(docs, nsValue(ctx), ctx.namespace.explicit);
}

function identity(doc: unknown): Pick<ValidationRow, 'kind' | 'namespace' | 'name'> {
  if (!doc || typeof doc !== 'object') return {};
  const { kind, metadata } = doc as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  return {
    ...(typeof kind === 'string' ? { kind } : {}),
    ...(typeof metadata?.namespace === 'string' ? { namespace: metadata.namespace } : {}),
    ...(typeof metadata?.name === 'string' ? { name: metadata.name } : {}),
  };
}

function nsValue(ctx: Ctx): string {
  const { value, explicit } = ctx.namespace;
  if (value !== CLUSTER_NAMESPACE && !isDnsLabel(value)) {
    const from = explicit ? flagName('namespace') : 'FEDMESH_NAMESPACE';
    throw new UsageError(
      `${from} "${value}" is not a namespace: lowercase letters, digits and "-", at most 63 (a DNS-1123 label)`,
    );
  }
  return value;
}

/** Lists look in every namespace unless one was asked for (by -n or FEDMESH_NAMESPACE). */
function listNamespace(ctx: Ctx, kind: Kind): string | undefined {
  if (!ctx.namespace.given) return undefined;
  return namespaceFor(kind, nsValue(ctx), 'default');
}

function regionName(region: string): string {
  if (!isDnsLabel(region))
    throw new UsageError(`${flagName('region')} "${region}" is not a region name (a DNS-1123 label)`);
  return region;
}

/** A 404 for a name looked up in a namespace nobody chose is most often that: say so. */
function withNotFoundHint(err: unknown, ctx: Ctx, kind: Kind): unknown {
  if (!(err instanceof ApiError) || err.status !== 404 || isClusterScoped(kind)) return err;
  if (!ctx.namespace.given)
    err.hint = `no -n was given, so fedmeshctl looked in namespace "default"; fedmeshctl get ${kind.toLowerCase()} lists every namespace`;
  return err;
}

export function kindOf(arg: string | undefined, command: string): Kind {
  if (!arg) throw new UsageError(`${command} needs a KIND: ${KIND_HELP}`, command);
  const kind = resolveKind(arg);
  if (kind) return kind;
  const near = suggestKind(arg);
  throw new UsageError(
    near ? `unknown kind ${arg}; did you mean ${near}?` : `unknown kind ${arg}; the kinds are ${KIND_HELP}`,
    command,
  );
}

function checkName(name: string, command: string): void {
  if (!isDnsLabel(name)) {
    throw new UsageError(
      `"${name}" is not a resource name: lowercase letters, digits and "-", at most 63 (a DNS-1123 label)`,
      command,
    );
  }
}

export function outputFormat(v: string | undefined): OutputFormat {
  if (v === undefined) return OutputFormat.Table;
  if ((Object.values(OutputFormat) as string[]).includes(v)) return v as OutputFormat;
  throw new UsageError(`-o/--output must be table, wide, yaml or json, not "${v}"`);
}

function noMore(rest: string[], command: string): void {
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}" for ${command}`, command);
}

function resourcePath(kind: string, namespace: string, name: string): string {
  return `/v1/resources/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`;
}

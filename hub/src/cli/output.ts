import { type FieldIssue, isKnownKind, type Kind, type SpecOf } from '@fedmesh/shared';
import { stringify } from 'yaml';
import type {
  ApplyItem,
  ApplyResponse,
  ChangeEntry,
  HistoryItem,
  ProxySummary,
  RegionPreview,
  RegionSummary,
  StoredManifest,
} from './types.js';

// Pure formatting: every function returns the text to print, so it is tested without a terminal.

/** `wide`: every column of a table (where the default leaves some out to fit 100 columns). */
export const OutputFormat = { Table: 'table', Wide: 'wide', Yaml: 'yaml', Json: 'json' } as const;
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

export type { HistoryItem, StoredManifest } from './types.js';

/** What a default table may take: a terminal of 100 columns. */
export const TABLE_WIDTH = 100;

/** Left-aligned columns separated by three spaces, like kubectl. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

export function formatJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Several resources as a YAML stream: it can be edited and applied back as it is. */
export function formatYamlDocuments(values: readonly unknown[]): string {
  return values.map((v) => stringify(v, { lineWidth: 0 })).join('---\n');
}

export function formatResources(
  items: readonly StoredManifest[],
  format: OutputFormat,
  single: boolean,
): string {
  if (format === OutputFormat.Json) return formatJson(single ? items[0] : { items });
  if (format === OutputFormat.Yaml) return formatYamlDocuments(items);
  if (items.length === 0) return 'No resources found.\n';
  const kinds = new Set(items.map((i) => i.kind));
  const mixed = kinds.size > 1;
  const namespaced = items.some((i) => i.metadata.namespace !== undefined);
  const kind = items[0]!.kind;
  const extra = mixed ? [] : (summaryOf(kind)?.headers ?? []);
  const headers = [
    ...(mixed ? ['KIND'] : []),
    ...(namespaced ? ['NAMESPACE'] : []),
    'NAME',
    'REVISION',
    ...extra,
  ];
  const rows = items.map((r) => [
    ...(mixed ? [r.kind] : []),
    ...(namespaced ? [r.metadata.namespace ?? '-'] : []),
    r.metadata.name,
    String(r.metadata.revision ?? '-'),
    ...(mixed ? [] : summaryRow(kind, r.spec)),
  ]);
  return formatTable(headers, rows);
}

const list = (xs: unknown[] | undefined, empty = '<none>') => (xs?.length ? xs.join(',') : empty);
const labels = (l: Record<string, string> | undefined) =>
  l && Object.keys(l).length
    ? Object.entries(l)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : '<none>';

/**
 * Per-kind table columns: what an operator scans for first. Specs come from the server, which
 * validated them, so they are read as the model's types (with defensive defaults all the same).
 */
const SUMMARY: { [K in Kind]: { headers: string[]; row: (s: SpecOf<K>) => string[] } } = {
  Region: {
    headers: ['LABELS', 'BUDGET', 'GATEWAY'],
    row: (s) => [
      labels(s.labels),
      s.link ? `${s.link.budget}${s.link.burst ? ` (burst ${s.link.burst})` : ''}` : '-',
      s.gateway ? `${s.gateway.address}:${s.gateway.port}` : '-',
    ],
  },
  Service: {
    headers: ['PORTS', 'EXPORT-TO', 'DEPENDS-ON'],
    row: (s) => [
      list((s.ports ?? []).map((p) => `${p.name}:${p.port}/${p.protocol}`)),
      list(s.exportTo, '*'),
      list(s.dependsOn),
    ],
  },
  ServiceEndpoints: {
    headers: ['SERVICE', 'REGION', 'HEALTHY'],
    row: (s) => {
      const eps = s.endpoints ?? [];
      return [
        String(s.service),
        String(s.region),
        `${eps.filter((e) => e.healthy !== false).length}/${eps.length}`,
      ];
    },
  },
  TrafficRoute: {
    headers: ['SERVICE', 'RULES', 'FAILOVER'],
    row: (s) => [String(s.service), String((s.rules ?? []).length), list(s.failover)],
  },
  TrafficPolicy: {
    headers: ['SERVICE', 'SUBSETS', 'LB'],
    row: (s) => [String(s.service), list((s.subsets ?? []).map((x) => x.name)), s.loadBalancer ?? '-'],
  },
  AuthorizationPolicy: {
    headers: ['SERVICE', 'ACTION', 'RULES'],
    row: (s) => [String(s.service), String(s.action), String((s.rules ?? []).length)],
  },
};

/** `Service shop/payments`, `Region eu-west`. */
export function describeItem(i: Pick<ApplyItem, 'kind' | 'namespace' | 'name'>): string {
  const kind = i.kind ?? '<no kind>';
  const name = i.name ?? '<no name>';
  return i.namespace && i.namespace !== '_' ? `${kind} ${i.namespace}/${name}` : `${kind} ${name}`;
}

/**
 * One line per document (with its file and position), field issues indented under invalid
 * ones, diff lines under changed ones on a dry run, and a summary line.
 */
export function formatApply(
  res: ApplyResponse,
  sources: readonly string[],
  opts: { diffOnly?: boolean } = {},
): string {
  const lines: string[] = [];
  for (const item of res.items) {
    if (opts.diffOnly && (item.result === 'unchanged' || item.result === 'skipped')) continue;
    const where = sources[item.index] ? `${sources[item.index]}: ` : '';
    const rev = item.revision !== undefined && !res.dryRun ? ` (revision ${item.revision})` : '';
    const verb =
      res.dryRun && (item.result === 'created' || item.result === 'updated')
        ? `would be ${item.result}`
        : item.result;
    lines.push(
      `${where}${describeItem(item)} ${verb}${rev}${item.message && item.result !== 'invalid' ? `: ${item.message}` : ''}`,
    );
    if (item.result === 'invalid') lines.push(...formatIssues(item.issues ?? [], item.message));
    for (const w of item.warnings ?? [])
      lines.push(`    warning: ${w.path ? `${w.path}: ` : ''}${w.message}`);
    for (const d of item.diff ?? []) lines.push(`    ${d}`);
  }
  const counts = Object.entries(res.summary)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  const warned = res.items.filter((i) => i.warnings?.length).length;
  lines.push(
    `${res.items.length} document${res.items.length === 1 ? '' : 's'}${res.dryRun ? ' (dry run)' : ''}: ${counts || 'none'}` +
      (warned ? ` (${warned} with warnings)` : ''),
  );
  if (res.error) lines.push(`error: ${res.error.message}`);
  return `${lines.join('\n')}\n`;
}

export function formatIssues(issues: readonly FieldIssue[], fallback?: string): string[] {
  if (issues.length === 0) return fallback ? [`    ${fallback}`] : [];
  return issues.map((i) => `    ${i.path || '(document)'}: ${i.message}`);
}

/**
 * The audit log's words (create, update, delete), as `changes` prints them; a hub from before
 * `action` existed is read from its put/delete and the write before.
 */
export function historyActions(items: readonly HistoryItem[]): string[] {
  return items.map(
    (h, i) =>
      h.action ??
      (h.op === 'delete' ? 'delete' : i === 0 || items[i - 1]!.op === 'delete' ? 'create' : 'update'),
  );
}

export function formatHistory(items: readonly HistoryItem[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items });
  if (format === OutputFormat.Yaml) return stringify({ items }, { lineWidth: 0 });
  const actions = historyActions(items);
  return formatTable(
    ['REVISION', 'TIME', 'OP', 'ACTOR'],
    items.map((h, i) => [String(h.revision), h.time, actions[i]!, h.actor ?? '-']),
  );
}

export function formatChanges(items: readonly ChangeEntry[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items });
  if (format === OutputFormat.Yaml) return stringify({ items }, { lineWidth: 0 });
  if (items.length === 0) return 'No changes.\n';
  return formatTable(
    ['REVISION', 'TIME', 'ACTOR', 'OP', 'RESOURCE'],
    items.map((e) => [String(e.revision), e.time, e.actor, e.op, describeItem(e)]),
  );
}

/**
 * The default table fits 100 columns: the version as applied/desired, one SYNC word for in-sync
 * and stale, and the last error cut to what is left of the line. `-o wide` has every figure.
 */
export function formatRegions(items: readonly RegionSummary[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items });
  if (format === OutputFormat.Yaml) return stringify({ items }, { lineWidth: 0 });
  if (items.length === 0) return 'No regions.\n';
  const lag = (r: RegionSummary) => (r.inSync ? '0' : `${r.lag.versions}v/${r.lag.seconds}s`);
  const use = (r: RegionSummary) =>
    r.line.utilization === null ? '-' : `${Math.round(r.line.utilization * 100)}%`;
  const drain = (r: RegionSummary) =>
    r.line.drainSeconds === null ? '-' : formatSeconds(r.line.drainSeconds);
  if (format === OutputFormat.Wide) {
    return formatTable(
      [
        'REGION',
        'DESIRED',
        'APPLIED',
        'IN-SYNC',
        'LAG',
        'SENT',
        'RATIO',
        'BUDGET',
        'USE',
        'QUEUED',
        'DRAIN',
        'PROXIES',
        'STALE',
        'LAST-ERROR',
      ],
      items.map((r) => [
        r.region,
        String(r.desired.version),
        r.applied ? String(r.applied.version) : '-',
        r.inSync ? 'yes' : 'no',
        lag(r),
        formatBytes(r.bytesSent),
        r.line.compressionRatio === null ? '-' : `${r.line.compressionRatio.toFixed(1)}x`,
        budgetOf(r),
        use(r),
        formatBytes(r.line.queuedBytes),
        drain(r),
        String(r.connectedProxies),
        r.stale ? 'yes' : 'no',
        r.lastError ? oneLine(r.lastError, 200) : '-',
      ]),
    );
  }
  const headers = ['REGION', 'VERSION', 'SYNC', 'LAG', 'BUDGET', 'USE', 'DRAIN', 'PROXIES', 'LAST-ERROR'];
  const rows = items.map((r) => [
    r.region,
    `${r.applied ? r.applied.version : '-'}/${r.desired.version}`,
    r.stale ? 'stale' : r.inSync ? 'yes' : 'no',
    r.inSync
      ? '0'
      : `${r.lag.versions}v/${r.lag.seconds < 60 ? `${r.lag.seconds}s` : formatSeconds(r.lag.seconds)}`,
    budgetOf(r),
    use(r),
    drain(r),
    String(r.connectedProxies),
  ]);
  const widths = headers.slice(0, -1).map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  // The error gets what is left, and at least a word or two when the rest is very wide.
  const room = Math.max(10, TABLE_WIDTH - widths.reduce((n, w) => n + w + 3, 0));
  return formatTable(
    headers,
    rows.map((row, i) => [...row, items[i]!.lastError ? oneLine(items[i]!.lastError!, room) : '-']),
  );
}

/** `op Kind/ns/name /path: value`: a sync op with its view key decoded from the JSON pointer. */
export function describeOp(op: RegionPreview['ops'][number]): string {
  const segments = op.path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const [key = '', ...rest] = segments;
  const where = rest.length ? ` /${rest.join('/')}` : '';
  let value = '';
  if ('value' in op && op.value !== undefined) {
    const text = JSON.stringify(op.value);
    value = `: ${text.length > 60 ? `${text.slice(0, 59)}…` : text}`;
  }
  return `${op.op} ${key}${where}${value}`;
}

export interface PreviewRow extends RegionPreview {
  /** The budget in force on the region's line, bytes/s; null when the Region sets none. */
  budgetBytesPerSecond: number | null;
  /** The payload's time on the line at that budget (headers and framing add a little). */
  seconds: number | null;
}

/** `fedmeshctl preview`: per region the ops it would receive, their bytes and their line time. */
export function formatPreview(rows: readonly PreviewRow[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items: rows });
  if (format === OutputFormat.Yaml) return stringify({ items: rows }, { lineWidth: 0 });
  if (rows.length === 0) return 'No regions.\n';
  const lines: string[] = [];
  for (const r of rows) {
    if (r.ops.length === 0) {
      lines.push(`${r.region}: nothing to send (the change is outside its view)`);
      continue;
    }
    const time =
      r.seconds === null || r.budgetBytesPerSecond === null
        ? 'no budget set'
        : `${formatDuration(r.seconds)} at its budget of ${formatBytes(r.budgetBytesPerSecond)}/s`;
    lines.push(
      `${r.region}: ${r.ops.length} op${r.ops.length === 1 ? '' : 's'}, ` +
        `${formatBytes(r.encodedBytes)} (${r.codec}, ${formatBytes(r.rawBytes)} raw) in ${r.messages} message${r.messages === 1 ? '' : 's'}, ${time}`,
    );
    const shown = format === OutputFormat.Wide ? r.ops : r.ops.slice(0, 20);
    for (const op of shown) lines.push(`    ${describeOp(op)}`);
    if (shown.length < r.ops.length)
      lines.push(`    … ${r.ops.length - shown.length} more (-o wide shows all)`);
  }
  return `${lines.join('\n')}\n`;
}

export interface ValidationRow {
  source: string;
  kind?: string;
  namespace?: string;
  name?: string;
  valid: boolean;
  issues: FieldIssue[];
}

/** `fedmeshctl validate`: a line per document, its field issues under it, and a count. */
export function formatValidation(rows: readonly ValidationRow[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items: rows });
  if (format === OutputFormat.Yaml) return stringify({ items: rows }, { lineWidth: 0 });
  const lines: string[] = [];
  for (const r of rows) {
    lines.push(`${r.source}: ${describeItem(r)} ${r.valid ? 'valid' : 'invalid'}`);
    if (!r.valid) lines.push(...formatIssues(r.issues));
  }
  const bad = rows.filter((r) => !r.valid).length;
  lines.push(
    `${rows.length} document${rows.length === 1 ? '' : 's'}: ${rows.length - bad} valid${bad ? `, ${bad} invalid` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}

/** `3ms`, `0.8s`, `42s`, `12m5s`. */
export function formatDuration(seconds: number): string {
  if (seconds < 0.001) return '<1ms';
  if (seconds < 0.1) return `${Math.ceil(seconds * 1000)}ms`;
  if (seconds < 10) return `${(Math.ceil(seconds * 10) / 10).toString()}s`;
  return formatSeconds(seconds);
}

const SHORT_TYPES: Record<string, string> = {
  'type.googleapis.com/envoy.config.listener.v3.Listener': 'LDS',
  'type.googleapis.com/envoy.config.route.v3.RouteConfiguration': 'RDS',
  'type.googleapis.com/envoy.config.cluster.v3.Cluster': 'CDS',
  'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment': 'EDS',
};

/** `fedmeshctl proxies`: one line per node proxy, like `istioctl proxy-status`. */
export function formatProxies(items: readonly ProxySummary[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items });
  if (format === OutputFormat.Yaml) return stringify({ items }, { lineWidth: 0 });
  if (items.length === 0) return 'No proxies.\n';
  const acked = (p: ProxySummary, short: string) => {
    const type = Object.keys(SHORT_TYPES).find((t) => SHORT_TYPES[t] === short)!;
    return p.acked[type] ?? (p.subscribed[type] !== undefined ? 'pending' : '-');
  };
  return formatTable(
    ['NODE', 'REGION', 'CLIENT', 'STATUS', 'LDS', 'RDS', 'CDS', 'EDS', 'NACKS', 'LAST-NACK'],
    items.map((p) => [
      p.node || '(no id)',
      p.region,
      p.client ? oneLine(p.client, 30) : '-',
      p.state,
      acked(p, 'LDS'),
      acked(p, 'RDS'),
      acked(p, 'CDS'),
      acked(p, 'EDS'),
      String(p.nacks),
      p.lastNack ? oneLine(p.lastNack.reason, 50) : '-',
    ]),
  );
}

/** The budget in force; `*` marks one the agent's flag lowered below the Region's. */
function budgetOf(r: RegionSummary): string {
  const bps = r.line.budgetBytesPerSecond ?? r.budget.bytesPerSecond;
  if (bps === null) return '-';
  const lowered = r.budget.bytesPerSecond !== null && bps < r.budget.bytesPerSecond;
  return `${formatBytes(bps)}/s${lowered ? '*' : ''}`;
}

/** `0s`, `42s`, `12m5s`, `3h20m`: a drain time at a glance. */
export function formatSeconds(s: number): string {
  const n = Math.ceil(s);
  if (n < 60) return `${n}s`;
  if (n < 3600) return `${Math.floor(n / 60)}m${n % 60 ? `${n % 60}s` : ''}`;
  const m = Math.floor((n % 3600) / 60);
  return `${Math.floor(n / 3600)}h${m ? `${m}m` : ''}`;
}

/** Binary units, one decimal below 10: `512B`, `1.5KiB`, `20MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  const text = u === 0 || v >= 10 ? String(Math.round(v)) : v.toFixed(1).replace(/\.0$/, '');
  return `${text}${units[u]}`;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function summaryOf(kind: string): { headers: string[]; row: (s: never) => string[] } | undefined {
  return isKnownKind(kind) ? SUMMARY[kind] : undefined;
}

function summaryRow(kind: string, spec: unknown): string[] {
  return summaryOf(kind)?.row(spec as never) ?? [];
}

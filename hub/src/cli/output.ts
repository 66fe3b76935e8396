import { type FieldIssue, isKnownKind, type Kind, type SpecOf } from '@fedmesh/shared';
import { stringify } from 'yaml';
import type { ApplyItem, ApplyResponse } from '../api/apply.js';
import type { ProxySummary, RegionSummary } from '../api/regions.js';
import type { AuditEntry } from '../audit/index.js';

// Pure formatting: every function returns the text to print, so it is tested without a terminal.

export const OutputFormat = { Table: 'table', Yaml: 'yaml', Json: 'json' } as const;
export type OutputFormat = (typeof OutputFormat)[keyof typeof OutputFormat];

/** A resource as the hub returns it (with `metadata.revision`). */
export interface StoredManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; revision?: number; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface HistoryItem {
  revision: number;
  time: string;
  op: 'put' | 'delete';
  actor: string | null;
  resource?: unknown;
}

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
    for (const d of item.diff ?? []) lines.push(`    ${d}`);
  }
  const counts = Object.entries(res.summary)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  lines.push(
    `${res.items.length} document${res.items.length === 1 ? '' : 's'}${res.dryRun ? ' (dry run)' : ''}: ${counts || 'none'}`,
  );
  if (res.error) lines.push(`error: ${res.error.message}`);
  return `${lines.join('\n')}\n`;
}

export function formatIssues(issues: readonly FieldIssue[], fallback?: string): string[] {
  if (issues.length === 0) return fallback ? [`    ${fallback}`] : [];
  return issues.map((i) => `    ${i.path || '(document)'}: ${i.message}`);
}

export function formatHistory(items: readonly HistoryItem[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items });
  if (format === OutputFormat.Yaml) return stringify({ items }, { lineWidth: 0 });
  return formatTable(
    ['REVISION', 'TIME', 'OP', 'ACTOR'],
    items.map((h) => [String(h.revision), h.time, h.op, h.actor ?? '-']),
  );
}

export function formatChanges(items: readonly AuditEntry[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items });
  if (format === OutputFormat.Yaml) return stringify({ items }, { lineWidth: 0 });
  if (items.length === 0) return 'No changes.\n';
  return formatTable(
    ['REVISION', 'TIME', 'ACTOR', 'OP', 'RESOURCE'],
    items.map((e) => [String(e.revision), e.time, e.actor, e.op, describeItem(e)]),
  );
}

export function formatRegions(items: readonly RegionSummary[], format: OutputFormat): string {
  if (format === OutputFormat.Json) return formatJson({ items });
  if (format === OutputFormat.Yaml) return stringify({ items }, { lineWidth: 0 });
  if (items.length === 0) return 'No regions.\n';
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
      r.inSync ? '0' : `${r.lag.versions}v/${r.lag.seconds}s`,
      formatBytes(r.bytesSent),
      r.line.compressionRatio === null ? '-' : `${r.line.compressionRatio.toFixed(1)}x`,
      budgetOf(r),
      r.line.utilization === null ? '-' : `${Math.round(r.line.utilization * 100)}%`,
      formatBytes(r.line.queuedBytes),
      r.line.drainSeconds === null ? '-' : formatSeconds(r.line.drainSeconds),
      String(r.connectedProxies),
      r.stale ? 'yes' : 'no',
      r.lastError ? oneLine(r.lastError, 60) : '-',
    ]),
  );
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

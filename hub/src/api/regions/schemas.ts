import { z } from 'zod';
import {
  API_SCHEMAS,
  dnsLabel,
  documentedOnly,
  errors,
  ManifestSchema,
  READ_ERRORS,
  ViewResourceSchema,
  WRITE_ERRORS,
} from '../schemas.js';

export const RegionParams = z.object({
  region: dnsLabel('must be a DNS-1123 label').describe('Region name'),
});

const nullableNumber = z.number().nullable();
const date = z.iso.datetime();

/**
 * The region's line: the budget in force, what the agent says it receives, what waits on the
 * stream for it and how long the budget needs to carry that.
 */
export const RegionLineSchema = z.object({
  budgetBytesPerSecond: nullableNumber.describe(
    "What the agent enforces (the Region's budget, or lower by its flag); the Region's until it reports.",
  ),
  burstBytes: nullableNumber,
  budgetSource: z.enum(['agent', 'region']).nullable(),
  bytesReceived: nullableNumber.describe('Line bytes the agent reports receiving since it started.'),
  receiveRate: nullableNumber.describe('That rate over the last 5 s.'),
  utilization: nullableNumber.describe(
    'That rate over the budget (1 = the whole budget); null while the agent is silent.',
  ),
  queuedBytes: z
    .number()
    .describe('Sync bytes this hub published for the region that the agent has not consumed yet.'),
  queuedMessages: z.number().int().nullable(),
  drainSeconds: nullableNumber.describe('Queued bytes over the budget.'),
  compressionRatio: nullableNumber.describe(
    'Uncompressed over compressed payload bytes published for the region since this hub started.',
  ),
  transfer: z
    .object({ toVersion: z.number().int(), chunks: z.number().int(), count: z.number().int() })
    .nullable()
    .describe('A chunked payload the agent is receiving: chunks on its disk so far, of how many.'),
  holdingSince: date
    .nullable()
    .describe(
      'Since when the hub holds intermediate states while the queue drains (coalescing under throttle); null when it does not',
    ),
  coalescedRounds: z
    .number()
    .int()
    .describe('Publication rounds merged into a later one while the line was behind, since the hub started'),
});
export type RegionLine = z.infer<typeof RegionLineSchema>;

const versionHash = z.object({ version: z.number().int(), hash: z.string() });

/** What `GET /v1/regions/{region}` shows: desired against applied, and how the line is doing. */
export const RegionSummarySchema = z.object({
  region: z.string(),
  desired: versionHash,
  applied: versionHash.nullable(),
  inSync: z.boolean(),
  lag: z.object({ versions: z.number().int(), seconds: z.number() }),
  drift: z
    .object({ since: date.nullable(), seconds: z.number() })
    .describe(
      'How long the applied hash has differed from the desired one, dated by the oldest publication the agent has not consumed; 0 and null in sync (fedmesh_hub_region_drift_seconds)',
    ),
  stale: z.boolean(),
  lastReportAt: date.nullable(),
  bytesSent: z
    .number()
    .int()
    .describe(
      'Bytes this hub put on the region sync subject since it started, payload and headers; a publication JetStream deduplicated is not counted (fedmesh_hub_sync_bytes_sent_total)',
    ),
  snapshotsSent: z.number().int(),
  deltasSent: z.number().int(),
  budget: z.object({ bytesPerSecond: nullableNumber, burstBytes: nullableNumber }),
  connectedProxies: z.number().int(),
  nacks: z.number().int(),
  agent: z
    .object({
      id: z.string(),
      bytesReceived: z.number(),
      rejected: z.number(),
      resyncs: z.number(),
      codecs: z.array(z.string()),
    })
    .nullable(),
  line: RegionLineSchema,
  discovery: z
    .object({
      services: z.number().int().describe('Services whose ServiceEndpoints the agent owns'),
      lastReportAt: date.nullable(),
      stale: z.boolean(),
    })
    .describe(
      "The endpoints the region's agent discovered and the hub holds. They are kept when the agent goes silent, and marked stale after --endpoints-stale-after without a word from it.",
    ),
  lastError: z.string().nullable(),
});
export type RegionSummary = z.infer<typeof RegionSummarySchema>;
API_SCHEMAS.add(RegionSummarySchema, { id: 'RegionSummary' });

/** What `GET /v1/regions/{region}/proxies` shows of one proxy (`fedmeshctl proxies`). */
export const ProxySummarySchema = z.object({
  node: z.string(),
  region: z.string(),
  client: z.string().nullable(),
  protocol: z.string().describe('sotw or delta'),
  connectedAt: z.string(),
  acked: z.record(z.string(), z.string()).describe('type URL → version'),
  subscribed: z.record(z.string(), z.number().int()).describe('type URL → names subscribed (-1: a wildcard)'),
  nacks: z.number().int().describe('NACKs of this node since its agent started, across reconnects'),
  lastNack: z
    .object({ typeUrl: z.string(), version: z.string(), reason: z.string(), at: z.string() })
    .nullable(),
  state: z
    .enum(['SYNCED', 'STALE', 'NACKED'])
    .describe(
      'SYNCED: every type it subscribes to ACKed the version its agent serves; NACKED: it rejected that version; STALE: it is behind, or its agent has not reported for a while.',
    ),
});
export type ProxySummary = z.infer<typeof ProxySummarySchema>;

export const RegionViewSchema = z.object({
  region: z.string(),
  version: z.number().int(),
  hash: z.string().describe('The view hash (v2, docs/protocol.md).'),
  resources: z.record(z.string(), ViewResourceSchema).describe('Keyed by <kind>/<namespace>/<name>.'),
});

const JsonPatchOp = z
  .object({ op: z.string(), path: z.string(), from: z.string().optional(), value: z.unknown().optional() })
  .describe('RFC 6902 operation');
export const PreviewSchema = z.object({
  region: z.string(),
  fromHash: z.string(),
  toHash: z.string(),
  ops: z.array(JsonPatchOp),
  codec: z.string().describe('br, gzip or identity'),
  rawBytes: z.number().int().describe('Canonical JSON of the ops, uncompressed'),
  encodedBytes: z.number().int().describe('Compressed payload bytes'),
  messages: z.number().int().describe('Sync messages (chunks) the delta takes'),
});

export const PreviewBody = documentedOnly(
  z
    .union([z.array(ManifestSchema), z.object({ items: z.array(ManifestSchema) }), ManifestSchema])
    .describe('A JSON list, a List with items, one manifest, or multi-document YAML.'),
);

export const schemas = {
  list: {
    summary: 'Sync status of every region',
    response: { 200: z.object({ items: z.array(RegionSummarySchema) }), ...errors(...READ_ERRORS) },
  },
  get: {
    summary: 'Sync status of one region: desired against applied, lag, bytes, budget, proxies',
    params: RegionParams,
    response: { 200: RegionSummarySchema, ...errors(...READ_ERRORS, 404) },
  },
  proxies: {
    summary: "The node proxies connected to the region's agent, as its last report says",
    params: RegionParams,
    response: { 200: z.object({ items: z.array(ProxySummarySchema) }), ...errors(...READ_ERRORS, 404) },
  },
  view: {
    summary: 'The scoped view the region should hold',
    params: RegionParams,
    response: { 200: RegionViewSchema, ...errors(...READ_ERRORS, 404) },
  },
  preview: {
    summary: 'The ops the region would receive if these manifests were applied, and their encoded size',
    description: 'Stores nothing; read-only tokens may call it.',
    params: RegionParams,
    body: PreviewBody,
    response: { 200: PreviewSchema, ...errors(...WRITE_ERRORS, 404) },
  },
} as const;

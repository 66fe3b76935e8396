import type { FieldIssue } from '@fedmesh/shared';

// What fedmeshctl reads of the hub's answers: the REST contract as a client sees it, not the
// server's internals. Fields the CLI does not read are left out; fields a newer hub adds are
// optional, so an older hub still works. `types.test.ts` holds the server's types to these.

export type ApplyResult = 'created' | 'updated' | 'unchanged' | 'invalid' | 'conflict' | 'skipped';

export interface ApplyItem {
  index: number;
  kind?: string;
  namespace?: string;
  name?: string;
  result: ApplyResult;
  revision?: number;
  message?: string;
  issues?: FieldIssue[];
  warnings?: FieldIssue[];
  diff?: string[];
}

export interface ApplyResponse {
  dryRun: boolean;
  summary: Record<ApplyResult, number>;
  items: ApplyItem[];
  error?: { code: string; message: string };
}

/** One write in the audit log (`GET /v1/changes`). */
export interface ChangeEntry {
  revision: number;
  time: string;
  actor: string;
  role: string;
  op: 'create' | 'update' | 'delete';
  kind: string;
  namespace: string;
  name: string;
}

export interface ChangesResponse {
  items: ChangeEntry[];
  next: number;
}

/** One write in `GET /v1/resources/{kind}/{ns}/{name}/history`. */
export interface HistoryItem {
  revision: number;
  time: string;
  /** The store's word; `action` is the audit log's (absent from hubs before it was added). */
  op: 'put' | 'delete';
  action?: 'create' | 'update' | 'delete';
  actor: string | null;
  resource?: unknown;
}

/** A resource as the hub returns it (with `metadata.revision`). */
export interface StoredManifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; revision?: number; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}

export interface RegionSummary {
  region: string;
  desired: { version: number; hash: string };
  applied: { version: number; hash: string } | null;
  inSync: boolean;
  lag: { versions: number; seconds: number };
  stale: boolean;
  bytesSent: number;
  budget: { bytesPerSecond: number | null; burstBytes: number | null };
  connectedProxies: number;
  line: {
    budgetBytesPerSecond: number | null;
    utilization: number | null;
    queuedBytes: number;
    drainSeconds: number | null;
    compressionRatio: number | null;
  };
  lastError: string | null;
}

export interface ProxySummary {
  node: string;
  region: string;
  client: string | null;
  acked: Record<string, string>;
  subscribed: Record<string, number>;
  nacks: number;
  lastNack?: { reason: string } | null;
  state: 'SYNCED' | 'STALE' | 'NACKED';
}

/** `POST /v1/regions/{region}/preview`. */
export interface RegionPreview {
  region: string;
  fromHash: string;
  toHash: string;
  ops: { op: string; path: string; value?: unknown; from?: string }[];
  codec: string;
  rawBytes: number;
  encodedBytes: number;
  messages: number;
}

/** `GET /healthz`. */
export interface Health {
  status: string;
  revision?: number;
  build?: { version?: string };
}

import { z } from 'zod';

/**
 * What an agent reports on `fedmesh.status.<region>`, on every change and on a heartbeat. The
 * hub validates it like any other input: an agent is a client, not a trusted peer.
 */
/** One node proxy connected to a region's agent, as the agent reports it (the proxy inventory). */
export const ProxyReport = z.object({
  node: z.string().max(256),
  client: z.string().max(256).optional(),
  protocol: z.enum(['sotw', 'delta']),
  connectedAt: z.string().max(64),
  /** Last version the proxy accepted, per type URL. */
  acked: z.record(z.string().max(256), z.string().max(64)),
  /** Names subscribed per type URL (a count; `-1` for a wildcard). */
  subscribed: z.record(z.string().max(256), z.int().min(-1)).default({}),
  /** NACKs of this node since the agent started, across its reconnects. */
  nacks: z.int().min(0),
  lastNack: z
    .object({
      typeUrl: z.string().max(256),
      version: z.string().max(64),
      reason: z.string().max(1024),
      at: z.string().max(64),
    })
    .optional(),
});
export type ProxyReport = z.infer<typeof ProxyReport>;

/** Proxies listed in one report, at most; a region with more lists the first ones by node id. */
export const MAX_REPORTED_PROXIES = 500;

export const AgentStatusReport = z.object({
  region: z.string().min(1).max(63),
  agentId: z.string().max(256),
  version: z.int().min(0),
  hash: z.string().max(64),
  proxies: z.int().min(0),
  nacks: z.int().min(0).default(0),
  acceptedCodecs: z.array(z.string().max(32)).max(8).default([]),
  bytesReceived: z.number().min(0).default(0),
  messagesReceived: z.number().min(0).default(0),
  rejected: z.number().min(0).default(0),
  resyncs: z.number().min(0).default(0),
  /** The budget the agent enforces: the Region's `link.budget`, or lower when its flag says so. */
  budgetBytesPerSecond: z.number().min(0).optional(),
  burstBytes: z.number().min(0).optional(),
  /** Everything received on the line (sync messages, protocol, TCP/IP overhead), estimated. */
  lineBytesReceived: z.number().min(0).default(0),
  /** Line bytes per second over the agent's last measuring window, and that rate over the budget. */
  receiveRate: z.number().min(0).optional(),
  utilization: z.number().min(0).optional(),
  /** Stream sequence of the last sync message consumed (applied, skipped or spooled). */
  streamSeq: z.int().min(0).optional(),
  /** Sync messages still on the stream for this region, as the agent last saw. */
  queuedMessages: z.int().min(0).optional(),
  /** Uncompressed over compressed payload bytes of what the agent received. */
  compressionRatio: z.number().min(0).optional(),
  /** A chunked payload being received: chunks spooled so far of how many. */
  spool: z.object({ toVersion: z.int().min(0), chunks: z.int().min(0), count: z.int().min(1) }).optional(),
  lastError: z.string().max(4096).optional(),
  heartbeatSeconds: z.number().positive().default(10),
  sentAt: z.string().max(64),
  /**
   * The proxy inventory, when it changed since the last report that carried it (or a minute
   * passed): absent otherwise, and the hub keeps the last one. Agents older than it never send it.
   */
  proxyList: z.array(ProxyReport).max(MAX_REPORTED_PROXIES).optional(),
});
export type AgentStatusReport = z.infer<typeof AgentStatusReport>;
export type AgentStatusReportInput = z.input<typeof AgentStatusReport>;

/** One endpoint as an agent reports it: what a ServiceEndpoints entry holds. */
export const ReportedEndpoint = z.object({
  address: z.string().max(253),
  port: z.int().min(1).max(65535),
  zone: z.string().max(128).optional(),
  labels: z.record(z.string().max(317), z.string().max(63)).optional(),
  healthy: z.boolean(),
});

/**
 * `fedmesh.uplink.<region>`: the endpoints a region's agent discovered, per `<namespace>/<service>`,
 * each service with its whole current list (the latest state, however many changes it took);
 * `removed` names services it no longer has endpoints for. `full` says the report is everything
 * (at start and every minute), so the hub may drop what it does not list.
 *
 * `counts` is the first priority of the uplink: per service, how many endpoints are healthy, sent
 * ahead of the detail when the budget is short (a report may carry only counts). Hubs older than
 * it drop the field and wait for the detail, which carries the same health.
 */
export const EndpointsReport = z.object({
  region: z.string().min(1).max(63),
  services: z.record(z.string().max(127), z.array(ReportedEndpoint).max(10_000)).default({}),
  counts: z.record(z.string().max(127), z.int().min(0).max(10_000)).optional(),
  removed: z.array(z.string().max(127)).max(10_000).default([]),
  full: z.boolean().default(false),
  /**
   * With `full`, when a full round went up in pieces: the services earlier pieces carried, which
   * the hub keeps although this report does not list them. Hubs older than it drop them until
   * the next report.
   */
  keep: z.array(z.string().max(127)).max(100_000).optional(),
});
export type EndpointsReport = z.infer<typeof EndpointsReport>;

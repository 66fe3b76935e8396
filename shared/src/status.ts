import { z } from 'zod';

/**
 * What an agent reports on `fedmesh.status.<region>`, on every change and on a heartbeat. The
 * hub validates it like any other input: an agent is a client, not a trusted peer.
 */
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
  budgetBytesPerSecond: z.number().min(0).optional(),
  lastError: z.string().max(4096).optional(),
  heartbeatSeconds: z.number().positive().default(10),
  sentAt: z.string().max(64),
});
export type AgentStatusReport = z.infer<typeof AgentStatusReport>;
export type AgentStatusReportInput = z.input<typeof AgentStatusReport>;

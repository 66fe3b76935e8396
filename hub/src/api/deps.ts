import type { Logger } from '@fedmesh/shared';
import type { FastifyServerFactory } from 'fastify';
import type { AuditLog } from '../audit/index.js';
import type { HubMetrics } from '../metrics/index.js';
import type { StatusIntake } from '../regions/status.js';
import type { RegionDiscovery } from '../regions/uplink.js';
import type { ConfigStore } from '../store/index.js';
import type { SyncEngine } from '../sync/index.js';
import type { AuthConfig } from './auth.js';

/**
 * What the route groups need from the hub. Groups import this, never `server.ts`, so the server
 * sits above its routes and nothing imports back up.
 */
export interface ApiDeps {
  store: ConfigStore;
  audit: AuditLog;
  engine: SyncEngine;
  status: StatusIntake;
  metrics: HubMetrics;
  logger: Logger;
  auth: AuthConfig;
  /** Largest request body accepted, in bytes (413 above); `POST /v1/apply` takes 16 times this. */
  bodyLimit: number;
  /** A region whose agent has not reported for this many heartbeats is marked stale. */
  staleAfterHeartbeats: number;
  /** What the hub holds of each region's discovered endpoints (absent: no uplink intake). */
  discovery?: (region: string) => RegionDiscovery;
  /** A region's agent-owned endpoints are marked stale after this long without a word from it. */
  endpointsStaleAfterMs?: number;
  /** Whether the hub can serve: NATS connected and the engine started. */
  ready: () => boolean;
  /**
   * The HTTP server to serve on, already listening (the hub's early listener, see listener.ts);
   * without it `listen()` makes one.
   */
  serverFactory?: FastifyServerFactory;
}

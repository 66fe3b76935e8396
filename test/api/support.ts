import {
  type ConfigStore,
  createMemoryConfigStore,
  createSyncEngine,
  type SyncEngine,
  type SyncPublisher,
} from '@fedmesh/hub';
import type { FastifyInstance } from 'fastify';
import { type Principal, tokenDigest } from '../../hub/src/api/auth.js';
import { buildServer } from '../../hub/src/api/server.js';
import type { AuditLog } from '../../hub/src/audit/index.js';
import { createMemoryAuditLog } from '../../hub/src/audit/index.js';
import { createHubMetrics, type HubMetrics } from '../../hub/src/metrics/index.js';
import type { StatusIntake } from '../../hub/src/regions/status.js';
import { testLogger } from '../support/fedmesh.js';

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const READER_TOKEN = 'reader-token-0123456789abcdef';
export const TOKENS: ReadonlyMap<string, Principal> = new Map([
  [tokenDigest(ADMIN_TOKEN), { name: 'alice', role: 'admin' }],
  [tokenDigest(READER_TOKEN), { name: 'bob', role: 'read-only' }],
]);

export interface TestApi {
  app: FastifyInstance;
  store: ConfigStore;
  audit: AuditLog;
  metrics: HubMetrics;
  engine: SyncEngine;
  close(): Promise<void>;
}

/**
 * Publication goes nowhere here: these tests are about the admin API, which reads the store
 * itself. The sync engine is real, only its JetStream side is left out.
 */
const nowherePublisher: SyncPublisher = {
  head: async () => undefined,
  publish: async (_region, messages) => ({
    firstSeq: 1,
    lastSeq: messages.length,
    bytes: 0,
    duplicate: false,
  }),
};

const noStatus: StatusIntake = { get: () => undefined, onReport: () => undefined, close: () => undefined };

/** The admin API over the memory store, for `inject()`: no sockets, no NATS, milliseconds per request. */
export async function buildTestApi(
  opts: {
    tokens?: ReadonlyMap<string, Principal>;
    bodyLimit?: number;
    store?: ConfigStore;
    /** What the hub says of NATS and its store (`/readyz`); ready unless told otherwise. */
    ready?: () => boolean;
    /** What the agents reported; none unless told otherwise. */
    status?: StatusIntake;
  } = {},
): Promise<TestApi> {
  const store = opts.store ?? createMemoryConfigStore();
  const audit = createMemoryAuditLog();
  const metrics = createHubMetrics();
  const logger = testLogger('api');
  const engine = createSyncEngine({
    store,
    publisher: nowherePublisher,
    logger,
    options: { debounceMs: 5, maxWaitMs: 50, chunkSize: 64 * 1024 },
  });
  await engine.start();
  const app = buildServer({
    store,
    audit,
    engine,
    status: opts.status ?? noStatus,
    metrics,
    logger,
    auth: { tokens: opts.tokens ?? TOKENS },
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    staleAfterHeartbeats: 3,
    ready: opts.ready ?? (() => true),
  });
  await app.ready();
  return {
    app,
    store,
    audit,
    metrics,
    engine,
    close: async () => {
      await app.close();
      await engine.stop();
    },
  };
}

export const auth = (token = ADMIN_TOKEN) => ({ authorization: `Bearer ${token}` });

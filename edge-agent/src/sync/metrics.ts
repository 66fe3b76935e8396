import { readCounter } from '@fedmesh/shared';
import { Gauge, type Registry } from 'prom-client';
import type { LineStatus, SyncClient, SyncCounters } from './client.js';

/**
 * The downlink's figures on the agent's `/metrics`: budget, what came in, how full the queue is
 * and how long the budget needs to drain it. Read at scrape time; nothing is kept twice. Totals
 * are counters (`*_total`), everything else gauges.
 */
export function registerLineMetrics(registry: Registry, sync: () => SyncClient | undefined): void {
  const gauge = (name: string, help: string, read: (line: LineStatus) => number | null) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const client = sync();
        const value = client ? read(client.line()) : null;
        if (value === null) this.reset();
        else this.set(value);
      },
    });
  // Totals of the sync client; 0 until it exists (NATS not reached yet).
  const counter = (name: `${string}_total`, help: string, read: (c: SyncCounters) => number) =>
    readCounter({
      name,
      help,
      registry,
      read(add) {
        const client = sync();
        add(client ? read(client.counters()) : 0);
      },
    });
  gauge(
    'fedmesh_agent_line_budget_bytes_per_second',
    'Downlink budget in force (the Region link.budget, or lower by --budget); absent when not metered',
    (l) => l.budget?.bytesPerSecond ?? null,
  );
  gauge(
    'fedmesh_agent_line_burst_bytes',
    'Token bucket size: bytes the agent may receive at once after a quiet spell',
    (l) => l.budget?.burstBytes ?? null,
  );
  gauge(
    'fedmesh_agent_line_tokens_bytes',
    'Tokens in the bucket now (negative while paying off a debt)',
    (l) => l.tokens,
  );
  counter(
    'fedmesh_agent_line_bytes_received_total',
    'Estimated bytes the downlink carried for this agent: sync messages, protocol, TCP/IP headers',
    (c) => c.lineBytesReceived,
  );
  gauge(
    'fedmesh_agent_line_receive_rate_bytes_per_second',
    'Downlink bytes per second over the last 5 s',
    (l) => l.receiveRate,
  );
  gauge(
    'fedmesh_agent_line_utilization_ratio',
    'Downlink rate over the budget, last 5 s',
    (l) => l.utilization,
  );
  gauge(
    'fedmesh_agent_sync_queued_messages',
    'Sync messages still on the stream for this region',
    (l) => l.queuedMessages,
  );
  gauge(
    'fedmesh_agent_sync_queued_bytes',
    'Those messages in line bytes, estimated from the recent average message',
    (l) => l.queuedBytes,
  );
  gauge(
    'fedmesh_agent_sync_drain_seconds',
    'Time the budget needs to drain the queue',
    (l) => l.drainSeconds,
  );
  gauge(
    'fedmesh_agent_sync_compression_ratio',
    'Uncompressed over compressed payload bytes received',
    (l) => l.compressionRatio,
  );
  counter(
    'fedmesh_agent_sync_paced_wait_seconds_total',
    'Time spent waiting for the budget before a pull',
    (c) => c.pacedWaitMs / 1000,
  );
  counter(
    'fedmesh_agent_sync_chunks_spooled_total',
    'Chunks of large payloads written to the spool',
    (c) => c.chunksSpooled,
  );
  counter(
    'fedmesh_agent_sync_resumes_total',
    'Chunked transfers resumed at the next chunk after an interruption',
    (c) => c.resumes,
  );
  gauge(
    'fedmesh_agent_sync_spool_chunks',
    'Chunks spooled of the payload in transfer',
    (l) => l.spool?.chunks ?? null,
  );
  gauge(
    'fedmesh_agent_sync_spool_chunks_expected',
    'Chunks of the payload in transfer',
    (l) => l.spool?.count ?? null,
  );
}

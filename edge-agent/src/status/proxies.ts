/**
 * The proxy inventory the agent reports to the hub (`GET /v1/regions/{region}/proxies`): each
 * connected node proxy with its client, ACKed version per type, subscriptions, and its NACK total
 * and last NACK. NACKs are counted per node id across reconnects, so a proxy that NACKs and
 * drops its stream does not reset to zero.
 */
import { MAX_REPORTED_PROXIES, type ProxyReport } from '@fedmesh/shared';
import type { NackRecord, ProxyStatus, XdsEvent } from '../xds/index.js';

/** Nodes whose NACK totals are remembered; the least recently NACKing is forgotten first. */
const MAX_NODES = 4096;
/** The inventory goes up at least this often even unchanged, so a restarted hub learns it. */
const RESEND_MS = 60_000;

export interface ProxyInventory {
  /** Feeds on the xDS server's events. */
  record(event: XdsEvent): void;
  /** NACKs of every node since the agent started, whether or not it is still connected. */
  totalNacks(): number;
  /** The inventory for a status report: undefined when unchanged since the last one sent. */
  forReport(connected: readonly ProxyStatus[]): ProxyReport[] | undefined;
}

export function createProxyInventory(now: () => number = Date.now): ProxyInventory {
  const nacks = new Map<string, { total: number; last: NackRecord }>();
  let lastSent = '';
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let total = 0;
  return {
    totalNacks: () => total,
    record(event) {
      if (event.type !== 'nacked') return;
      total++;
      const node = event.proxy.id;
      const prior = nacks.get(node);
      nacks.delete(node);
      nacks.set(node, { total: (prior?.total ?? 0) + 1, last: event.nack });
      if (nacks.size > MAX_NODES) nacks.delete(nacks.keys().next().value!);
    },
    forReport(connected) {
      const items = [...connected]
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : a.stream - b.stream))
        .slice(0, MAX_REPORTED_PROXIES)
        .map((p): ProxyReport => {
          const n = nacks.get(p.id);
          return {
            node: p.id,
            ...(p.userAgent ? { client: clientName(p).slice(0, 256) } : {}),
            protocol: p.protocol,
            connectedAt: p.connectedAt,
            acked: p.acked,
            subscribed: Object.fromEntries(
              Object.entries(p.subscriptions).map(([t, names]) => [
                t,
                names.includes('*') ? -1 : names.length,
              ]),
            ),
            nacks: n?.total ?? 0,
            ...(n
              ? {
                  lastNack: {
                    typeUrl: n.last.typeUrl,
                    version: n.last.version,
                    reason: n.last.reason.slice(0, 1024),
                    at: n.last.at,
                  },
                }
              : {}),
          };
        });
      const text = JSON.stringify(items);
      if (text === lastSent && now() - lastSentAt < RESEND_MS) return undefined;
      lastSent = text;
      lastSentAt = now();
      return items;
    },
  };
}

/**
 * Name and version together (`gRPC C-core linux Python 1.51.1`): the version is what tells an
 * operator which xDS fields the proxy understands (docs/xds.md).
 */
function clientName(p: ProxyStatus): string {
  return p.userAgentVersion ? `${p.userAgent} ${p.userAgentVersion}` : (p.userAgent ?? '');
}

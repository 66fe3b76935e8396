import type { XdsNode } from './cache.js';

/** What the agent reports about one connected proxy (one ADS stream). */
export interface ProxyStatus {
  /** `node.id` from the proxy's first request ('' when it sent none). */
  id: string;
  cluster?: string;
  userAgent?: string;
  /** `node.user_agent_version`, e.g. `1.51.1`. */
  userAgentVersion?: string;
  /** Server-side id of the ADS stream; a proxy that reconnects gets a new one. */
  stream: number;
  protocol: XdsProtocol;
  /** ISO time of the first request on the stream. */
  connectedAt: string;
  /** Last version the proxy accepted, per type URL. */
  acked: Record<string, string>;
  /** Rejections, oldest first (the last MAX_NACKS are kept). */
  nacks: NackRecord[];
  /** Subscribed resource names per type URL; `*` stands for a wildcard subscription. */
  subscriptions: Record<string, string[]>;
}

export type XdsProtocol = 'sotw' | 'delta';

export interface NackRecord {
  typeUrl: string;
  /** The version the proxy rejected (what the server last sent for the type). */
  version: string;
  reason: string;
  at: string;
}

export type XdsEvent =
  | { type: 'connected'; proxy: ProxyStatus }
  | { type: 'disconnected'; proxy: ProxyStatus }
  | { type: 'acked'; proxy: ProxyStatus; typeUrl: string; version: string }
  | { type: 'nacked'; proxy: ProxyStatus; nack: NackRecord };

/**
 * A response caused by a new view, handed to the proxy's transport. Responses to a proxy's own
 * requests (a new subscription, a reconnect) are not pushes: their delay is the proxy's doing.
 */
export interface XdsPush {
  typeUrl: string;
  /** View version the response carries. */
  version: string;
  proxy: string;
  stream: number;
  protocol: XdsProtocol;
  /** Milliseconds from the view being applied (handed to `setView`) to the response being written. */
  sinceApplyMs: number;
}

export const MAX_NACKS = 16;

/** The mutable record a stream keeps about its proxy; `status()` hands out copies. */
export interface ProxyRecord {
  readonly stream: number;
  identify(node: XdsNode | null | undefined): void;
  subscribed(typeUrl: string, names: readonly string[]): void;
  acked(typeUrl: string, version: string): void;
  nacked(typeUrl: string, version: string, reason: string): void;
  status(): ProxyStatus;
  close(): void;
}

export interface ProxyRegistry {
  open(protocol: XdsProtocol): ProxyRecord;
  list(): ProxyStatus[];
}

export function createProxyRegistry(onChange: (event: XdsEvent) => void): ProxyRegistry {
  const records = new Map<number, ProxyRecord>();
  let nextStream = 1;

  // Listeners belong to the agent; one that throws must not take an ADS stream down with it.
  const emit = (event: XdsEvent): void => {
    try {
      onChange(event);
    } catch {
      /* reported by the caller's own logging, if any */
    }
  };

  return {
    open(protocol) {
      const stream = nextStream++;
      const state: ProxyStatus = {
        id: '',
        stream,
        protocol,
        connectedAt: new Date().toISOString(),
        acked: {},
        nacks: [],
        subscriptions: {},
      };
      const snapshot = (): ProxyStatus => ({
        ...state,
        acked: { ...state.acked },
        nacks: state.nacks.map((n) => ({ ...n })),
        subscriptions: Object.fromEntries(Object.entries(state.subscriptions).map(([k, v]) => [k, [...v]])),
      });
      const record: ProxyRecord = {
        stream,
        identify(node) {
          state.id = node?.id ?? '';
          if (node?.cluster) state.cluster = node.cluster;
          if (node?.user_agent_name) state.userAgent = node.user_agent_name;
          if (node?.user_agent_version) state.userAgentVersion = node.user_agent_version;
          records.set(stream, record);
          emit({ type: 'connected', proxy: snapshot() });
        },
        subscribed(typeUrl, names) {
          state.subscriptions[typeUrl] = [...names];
        },
        acked(typeUrl, version) {
          if (state.acked[typeUrl] === version) return;
          state.acked[typeUrl] = version;
          emit({ type: 'acked', proxy: snapshot(), typeUrl, version });
        },
        nacked(typeUrl, version, reason) {
          const nack = { typeUrl, version, reason, at: new Date().toISOString() };
          state.nacks.push(nack);
          if (state.nacks.length > MAX_NACKS) state.nacks.splice(0, state.nacks.length - MAX_NACKS);
          emit({ type: 'nacked', proxy: snapshot(), nack: { ...nack } });
        },
        status: snapshot,
        close() {
          if (!records.delete(stream)) return;
          emit({ type: 'disconnected', proxy: snapshot() });
        },
      };
      return record;
    },
    list() {
      return [...records.values()].map((r) => r.status());
    },
  };
}

import { randomBytes } from 'node:crypto';
import type { Snapshot } from './snapshot.js';

export type SnapshotListener = (next: Snapshot, previous: Snapshot | undefined) => void;

/**
 * The one boundary between "what should be served" and the ADS streams (go-control-plane's
 * ConfigWatcher in miniature): streams read the current snapshot and watch for the next one.
 */
export interface SnapshotCache {
  current(): Snapshot | undefined;
  set(snapshot: Snapshot): void;
  watch(listener: SnapshotListener): () => void;
}

export function createSnapshotCache(): SnapshotCache {
  let current: Snapshot | undefined;
  const listeners = new Set<SnapshotListener>();
  return {
    current: () => current,
    set(snapshot) {
      const previous = current;
      current = snapshot;
      for (const listener of [...listeners]) listener(snapshot, previous);
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Nonces only need to be unique on a stream, but a per-process prefix keeps a nonce from an
 * earlier agent process (a proxy that reconnects after a restart) from ever matching.
 */
export function createNonceSource(): () => string {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  return () => `${prefix}-${(++n).toString(36)}`;
}

/** The subset of `google.rpc.Status` a NACK carries. */
export interface RpcStatus {
  code?: number;
  message?: string;
}

export interface XdsNode {
  id?: string;
  cluster?: string;
  user_agent_name?: string;
  /** Which release of the client: what decides the xDS fields it knows (docs/xds.md). */
  user_agent_version?: string;
}

import type { ServerDuplexStream } from '@grpc/grpc-js';
import { isFullStateType, isTypeUrl, PUSH_ORDER, type TypeUrl } from '../types.js';
import type { RpcStatus, XdsNode } from './cache.js';
import type { EncodedAny } from './protos.js';
import type { Snapshot } from './snapshot.js';
import { identifyProxy, reportPush, type StreamDeps } from './sotw.js';

export interface DeltaDiscoveryRequest {
  node: XdsNode | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: RpcStatus | null;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: { name: string; version: string; resource: EncodedAny }[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
  control_plane: { identifier: string };
}

const WILDCARD = '*';
/** `known` value for a name the client was told does not exist. */
const ABSENT = '';
/** Responses whose ACK is still outstanding; older nonces are forgotten beyond this. */
const MAX_PENDING = 32;

interface TypeState {
  names: Set<string>;
  wildcard: boolean;
  /** What the client holds: name → version (the resource hash), or ABSENT once told it is gone. */
  known: Map<string, string>;
  /** Nonce → system version of responses not yet ACKed or NACKed. */
  pending: Map<string, string>;
}

/**
 * Incremental ("delta") ADS on one stream. Unlike SotW, subscription changes are deltas, so no
 * request is ever ignored: the nonce only pairs an ACK/NACK with the response it answers. The
 * server sends only resources whose version (hash) differs from what the client holds, and names
 * that disappeared (or never existed) in `removed_resources`. A NACKed resource is not resent
 * until it changes, because `known` already holds the version the client refused.
 */
export function serveDeltaStream(
  call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>,
  deps: StreamDeps,
): void {
  const proxy = deps.proxies.open('delta');
  let log = deps.logger.child({ stream: proxy.stream, protocol: 'delta' });
  const states = new Map<TypeUrl, TypeState>();
  let closed = false;
  let identified = false;

  const respond = (
    typeUrl: TypeUrl,
    state: TypeState,
    snapshot: Snapshot,
    always: boolean,
    push = false,
  ): void => {
    const type = snapshot.types[typeUrl];
    const scope = new Set(state.names);
    if (state.wildcard) {
      for (const name of type.resources.keys()) scope.add(name);
      for (const name of state.known.keys()) scope.add(name);
    }
    const resources: DeltaDiscoveryResponse['resources'] = [];
    const removed: string[] = [];
    for (const name of scope) {
      const current = type.resources.get(name);
      const held = state.known.get(name);
      if (current) {
        if (held === current.hash) continue;
        resources.push({ name, version: current.hash, resource: current.any });
        state.known.set(name, current.hash);
      } else if (held !== ABSENT && (held !== undefined || state.names.has(name))) {
        removed.push(name);
        state.known.set(name, ABSENT);
      }
    }
    if (resources.length === 0 && removed.length === 0 && !always) return;
    const nonce = deps.nonce();
    state.pending.set(nonce, snapshot.version);
    if (state.pending.size > MAX_PENDING) state.pending.delete(state.pending.keys().next().value as string);
    log.debug(
      { typeUrl, version: snapshot.version, nonce, resources: resources.length, removed },
      'xds response',
    );
    call.write(
      {
        system_version_info: snapshot.version,
        resources,
        type_url: typeUrl,
        removed_resources: removed,
        nonce,
        control_plane: { identifier: deps.controlPlane },
      },
      push ? () => reportPush(deps, proxy, log, typeUrl, snapshot) : undefined,
    );
  };

  const onRequest = (req: DeltaDiscoveryRequest): void => {
    if (closed) return;
    if (!identified) {
      identified = true;
      log = identifyProxy(proxy, req.node, log);
    }
    const typeUrl = req.type_url;
    if (!isTypeUrl(typeUrl)) {
      log.debug({ typeUrl }, 'xds request for an unserved type ignored');
      return;
    }
    let state = states.get(typeUrl);
    const first = state === undefined;
    if (!state) {
      state = {
        names: new Set(),
        wildcard: false,
        known: new Map(Object.entries(req.initial_resource_versions ?? {})),
        pending: new Map(),
      };
      states.set(typeUrl, state);
    }

    if (req.response_nonce !== '') {
      const version = state.pending.get(req.response_nonce);
      if (version !== undefined) {
        state.pending.delete(req.response_nonce);
        if (req.error_detail) {
          const reason = req.error_detail.message || `code ${req.error_detail.code ?? '?'}`;
          log.warn({ typeUrl, version, reason }, 'proxy rejected xds config (NACK)');
          proxy.nacked(typeUrl, version, reason);
        } else {
          proxy.acked(typeUrl, version);
        }
      }
    }

    const subscribe = req.resource_names_subscribe ?? [];
    for (const name of subscribe) {
      if (name === WILDCARD) state.wildcard = true;
      else state.names.add(name);
    }
    for (const name of req.resource_names_unsubscribe ?? []) {
      if (name === WILDCARD) state.wildcard = false;
      else state.names.delete(name);
      // Forget what the client held so that a later re-subscription is answered in full.
      state.known.delete(name);
    }
    if (first && subscribe.length === 0 && isFullStateType(typeUrl)) state.wildcard = true;
    proxy.subscribed(typeUrl, state.wildcard ? [WILDCARD, ...state.names] : [...state.names]);

    const snapshot = deps.cache.current();
    // The first request of a type is always answered, even with nothing, so the client can finish init.
    if (snapshot) respond(typeUrl, state, snapshot, first);
  };

  const unwatch = deps.cache.watch((next, previous) => {
    for (const typeUrl of PUSH_ORDER) {
      const state = states.get(typeUrl);
      if (!state) continue;
      if (previous && previous.types[typeUrl].hash === next.types[typeUrl].hash) continue;
      // Without a previous snapshot the first request went unanswered: answer it now.
      respond(typeUrl, state, next, previous === undefined, true);
    }
  });

  const close = (why: string, err?: unknown): void => {
    if (closed) return;
    closed = true;
    unwatch();
    proxy.close();
    log.info({ why, err }, 'proxy disconnected');
  };
  call.on('data', onRequest);
  call.on('end', () => {
    close('client half-closed');
    call.end();
  });
  call.on('cancelled', () => close('cancelled'));
  call.on('error', (err) => close('error', err));
  call.on('close', () => close('closed'));
}

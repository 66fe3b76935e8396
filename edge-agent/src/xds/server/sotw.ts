import type { Logger } from '@fedmesh/shared';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { isFullStateType, isTypeUrl, PUSH_ORDER, type TypeUrl } from '../types.js';
import type { RpcStatus, SnapshotCache, XdsNode } from './cache.js';
import type { EncodedAny } from './protos.js';
import type { ProxyRecord, ProxyRegistry, XdsProtocol, XdsPush } from './proxies.js';
import type { Snapshot } from './snapshot.js';

export interface DiscoveryRequest {
  version_info: string;
  node: XdsNode | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: RpcStatus | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: EncodedAny[];
  type_url: string;
  nonce: string;
  control_plane: { identifier: string };
}

export interface StreamDeps {
  cache: SnapshotCache;
  proxies: ProxyRegistry;
  logger: Logger;
  nonce: () => string;
  controlPlane: string;
  /** Told when a response caused by a new view has been written to the proxy's stream. */
  pushed?: (push: XdsPush) => void;
}

const WILDCARD = '*';

interface TypeState {
  names: Set<string>;
  wildcard: boolean;
  /** Nonce of the last response of this type; only a request echoing it is an ACK or NACK. */
  lastNonce?: string;
  lastVersion?: string;
  /** Resource hashes of the last response (undefined until one was sent). */
  sent?: Map<string, string>;
  /** A new name was subscribed: the client is owed a response even when nothing changed. */
  owed: boolean;
  /** The last response was NACKed: never send the same content again. */
  rejected: boolean;
  /** The client named resources at some point: from then on an empty list means "none", not "all". */
  named: boolean;
}

/**
 * State-of-the-world ADS on one stream. The rules, from the xDS protocol:
 * - a request whose `response_nonce` is not the latest one sent for its type is stale: ignored
 *   entirely, the client will send a fresh one;
 * - a request echoing the latest nonce is an ACK, or a NACK when it carries `error_detail`;
 * - the server answers when the client subscribed to something new or when the content it is
 *   owed changed, never on a plain ACK, and never with content the client has just NACKed;
 * - LDS and CDS responses carry every resource of the type; RDS and EDS the subscribed ones.
 */
export function serveSotwStream(
  call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>,
  deps: StreamDeps,
): void {
  const proxy = deps.proxies.open('sotw');
  let log = deps.logger.child({ stream: proxy.stream, protocol: 'sotw' });
  const states = new Map<TypeUrl, TypeState>();
  let closed = false;
  let identified = false;

  const respond = (
    typeUrl: TypeUrl,
    state: TypeState,
    snapshot: Snapshot,
    force: boolean,
    push = false,
  ): void => {
    // Subscribed to nothing: even LDS/CDS, which otherwise always carry the full set, stay quiet.
    if (!state.wildcard && state.names.size === 0) return;
    const type = snapshot.types[typeUrl];
    const all = isFullStateType(typeUrl) || state.wildcard;
    const content = new Map<string, string>();
    const resources: EncodedAny[] = [];
    const names = all ? type.resources.keys() : state.names.values();
    for (const name of names) {
      const resource = type.resources.get(name);
      if (!resource) continue;
      content.set(name, resource.hash);
      resources.push(resource.any);
    }
    const changed =
      state.sent === undefined || !sameContent(state.sent, content, all ? undefined : state.names);
    if (!changed && (!force || state.rejected)) return;
    const nonce = deps.nonce();
    state.lastNonce = nonce;
    state.lastVersion = snapshot.version;
    state.sent = content;
    state.owed = false;
    state.rejected = false;
    log.debug({ typeUrl, version: snapshot.version, nonce, resources: resources.length }, 'xds response');
    call.write(
      {
        version_info: snapshot.version,
        resources,
        type_url: typeUrl,
        nonce,
        control_plane: { identifier: deps.controlPlane },
      },
      push ? () => reportPush(deps, proxy, log, typeUrl, snapshot) : undefined,
    );
  };

  const onRequest = (req: DiscoveryRequest): void => {
    if (closed) return;
    if (!identified) {
      identified = true;
      log = identifyProxy(proxy, req.node, log);
    }
    const typeUrl = req.type_url;
    if (!isTypeUrl(typeUrl)) {
      // SDS, RTDS and friends: nothing fedmesh serves; the proxy's own timeouts handle it.
      log.debug({ typeUrl }, 'xds request for an unserved type ignored');
      return;
    }
    let state = states.get(typeUrl);
    // A nonce from another stream (a reconnect) cannot be stale here: nothing was sent yet.
    if (
      state?.lastNonce !== undefined &&
      req.response_nonce !== '' &&
      req.response_nonce !== state.lastNonce
    ) {
      log.debug({ typeUrl, nonce: req.response_nonce, latest: state.lastNonce }, 'stale xds request ignored');
      return;
    }
    state ??= { names: new Set(), wildcard: false, owed: true, rejected: false, named: false };
    states.set(typeUrl, state);

    if (state.lastNonce !== undefined && req.response_nonce === state.lastNonce) {
      if (req.error_detail) {
        state.rejected = true;
        const reason = req.error_detail.message || `code ${req.error_detail.code ?? '?'}`;
        log.warn({ typeUrl, version: state.lastVersion, reason }, 'proxy rejected xds config (NACK)');
        proxy.nacked(typeUrl, state.lastVersion ?? '', reason);
      } else {
        proxy.acked(typeUrl, req.version_info);
      }
    }

    const names = new Set(req.resource_names);
    state.named ||= names.size > 0;
    // Legacy wildcard (xDS spec): an LDS/CDS client that never named a resource wants them all.
    const wildcard = names.delete(WILDCARD) || (!state.named && isFullStateType(typeUrl));
    if (wildcard && !state.wildcard) state.owed = true;
    for (const name of names) if (!state.names.has(name)) state.owed = true;
    state.names = names;
    state.wildcard = wildcard;
    proxy.subscribed(typeUrl, wildcard ? [WILDCARD, ...names] : [...names]);

    const snapshot = deps.cache.current();
    if (snapshot) respond(typeUrl, state, snapshot, state.owed);
  };

  const onSnapshot = (next: Snapshot, previous: Snapshot | undefined): void => {
    for (const typeUrl of PUSH_ORDER) {
      const state = states.get(typeUrl);
      if (!state) continue;
      if (previous && previous.types[typeUrl].hash === next.types[typeUrl].hash && !state.owed) continue;
      respond(typeUrl, state, next, state.owed, true);
    }
  };
  const unwatch = deps.cache.watch(onSnapshot);

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

/** The write callback fires once grpc-js has handed the response to HTTP/2: "sent", as far as we can tell. */
export function reportPush(
  deps: StreamDeps,
  proxy: { stream: number; status(): { id: string; protocol: XdsProtocol } },
  log: Logger,
  typeUrl: TypeUrl,
  snapshot: Snapshot,
): void {
  const sinceApplyMs = performance.now() - snapshot.appliedAt;
  const { id, protocol } = proxy.status();
  log.debug({ typeUrl, version: snapshot.version, sinceApplyMs }, 'xds push sent');
  deps.pushed?.({
    typeUrl,
    version: snapshot.version,
    proxy: id,
    stream: proxy.stream,
    protocol,
    sinceApplyMs,
  });
}

/** Equal when the new content matches what was sent, looking only at names still subscribed. */
function sameContent(sent: Map<string, string>, content: Map<string, string>, scope?: Set<string>): boolean {
  if (scope === undefined) {
    if (sent.size !== content.size) return false;
    for (const [name, hash] of content) if (sent.get(name) !== hash) return false;
    return true;
  }
  for (const name of scope) if (sent.get(name) !== content.get(name)) return false;
  return true;
}

/** The first request of a stream says who the proxy is: record it and name it in the stream's logs. */
export function identifyProxy(proxy: ProxyRecord, node: XdsNode | null, log: Logger): Logger {
  proxy.identify(node);
  const named = node?.id ? log.child({ proxy: node.id }) : log;
  named.info(
    { cluster: node?.cluster, userAgent: node?.user_agent_name, userAgentVersion: node?.user_agent_version },
    'proxy connected',
  );
  return named;
}

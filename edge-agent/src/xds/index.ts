/**
 * The xDS side of the edge agent: translate a region view into Envoy v3 resources and serve
 * them over ADS (state of the world and delta) to Envoy and proxyless gRPC.
 */

export { createApplyToPushHistogram } from './server/metrics.js';
export type { NackRecord, ProxyStatus, XdsEvent, XdsProtocol, XdsPush } from './server/proxies.js';
export {
  createXdsServer,
  type SetViewResult,
  type XdsServer,
  type XdsServerOptions,
} from './server/server.js';
export {
  apiListeners,
  clusterName,
  type ListenerBuilder,
  type ListenerContext,
  serviceHost,
  type TranslateOptions,
  translateView,
} from './translate/index.js';
export { TypeUrl, type XdsResources } from './types.js';

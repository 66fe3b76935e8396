// Public surface of the resource model. Everything else in this folder is internal.

export { SAMPLE_NAMESPACE, sampleMesh } from './fixtures.js';
export {
  endpointHealthy,
  endpointWeight,
  exportMatches,
  healthyCountOf,
  isKind,
  parseDependsOn,
  refKey,
  refOf,
  regionLabels,
  resourceConfigKey,
  resourceViewKey,
} from './helpers.js';
export { API_VERSION, type ApiVersion, KINDS, Kind, Scope, ScopingRole } from './kinds.js';
export { parseManifest, toFieldIssues, validateManifest } from './parse.js';
export {
  Address,
  ByteRate,
  ByteSize,
  DnsLabel,
  Duration,
  isDnsLabel,
  LABEL_KEY_RE,
  LABEL_VALUE_RE,
  Labels,
  PortNumber,
  ShortText,
} from './primitives.js';
export { parseByteRate, parseByteSize, parseDuration, QuantityError } from './quantity.js';
export {
  checkReferences,
  type ResourceLookup,
  referenceWarnings,
  trafficPolicyCandidates,
} from './references.js';
export {
  APPLY_ORDER,
  CLUSTER_KINDS,
  isClusterScoped,
  isKnownKind,
  type JsonSchema,
  KIND_ALIASES,
  kindInfo,
  kindScope,
  manifestJsonSchemas,
  NAMESPACED_KINDS,
} from './registry.js';
export { LOAD_BALANCERS, parseLabelSelector, RETRY_ON } from './schemas.js';
export type * from './types.js';

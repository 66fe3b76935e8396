export type { ApiDeps } from './api/deps.js';
export { buildServer } from './api/server.js';
export { type HubConfig, HubConfigSchema, parseHubArgs } from './config.js';
export { type RunningHub, startHub } from './hub.js';
export {
  createIncrementalScoper,
  type EntryChange,
  type IncrementalScoper,
  type RegionChanges,
  scopeRegion,
} from './scope/index.js';
export * from './store/index.js';
export * from './sync/index.js';
export { headerBytes } from './sync/publisher.js';

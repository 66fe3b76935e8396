export { createKvConfigStore, type KvConfigStoreOptions } from './kv.js';
export { createMemoryConfigStore } from './memory.js';
export type { ConfigChange, ConfigStore, ListFilter, StoredResource } from './types.js';

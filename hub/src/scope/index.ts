export {
  createIncrementalScoper,
  type EntryChange,
  type IncrementalScoper,
  type RegionChanges,
} from './incremental.js';
export { scopeRegion } from './scoper.js';

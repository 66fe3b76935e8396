export { diffResources, opsFromChanges } from './delta.js';
export { DEFAULT_CHUNK_SIZE, encodeDelta, encodeSnapshot, type OutgoingMessage } from './encoder.js';
export { createSyncEngine } from './engine.js';
export { createSyncPublisher, type StreamHead, type SyncPublisher } from './publisher.js';
export { type Clock, createPublishSchedule, type PublishScheduleOptions } from './schedule.js';
export { DEFAULT_SYNC_STREAM, ensureSyncStream, type SyncStreamOptions } from './stream.js';
export type { RegionPreview, RegionSyncStats, SyncEngine, SyncEngineOptions } from './types.js';

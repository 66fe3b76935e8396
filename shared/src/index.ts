export * from './canonical.js';
export * from './errors.js';
export * from './logger.js';
export * from './names.js';
export * from './model/index.js';

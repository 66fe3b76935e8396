// What hub and agents agree on about the bytes on the line: the envelope and message ids.

export * from './accounting.js';
export * from './catch-up.js';
export * from './envelope.js';
export * from './keys.js';
export * from './link.js';
export * from './signing.js';
export * from './urgent.js';

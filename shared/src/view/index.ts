// What the hub and every agent must agree on about a view: its shape, its canonical form, its
// v2 hash (from scratch and incremental), and the verified apply of a snapshot or delta.
export * from './apply.js';
export * from './canonical.js';
export * from './hash.js';
export * from './state.js';
export * from './types.js';

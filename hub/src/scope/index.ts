export { scopeRegion } from './scoper.js';

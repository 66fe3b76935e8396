import { type ResourceRef, refKey } from '@fedmesh/shared';
import type { ConfigStore } from './types.js';

/**
 * `store` with every `get` recorded in `reads` (as ref keys) and the methods in `replace` put in
 * place of its own: for tests of which store reads a write path makes.
 */
export function withCountedReads(
  store: ConfigStore,
  reads: string[],
  replace: Partial<ConfigStore> = {},
): ConfigStore {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'get')
        return (r: ResourceRef) => {
          reads.push(refKey(r));
          return target.get(r);
        };
      if (prop in replace) return replace[prop as keyof ConfigStore];
      const v = Reflect.get(target, prop);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

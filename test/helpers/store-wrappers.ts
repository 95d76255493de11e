import type { ObjectStore } from '../../lambdas/core/ports.js';

/** The store with some methods replaced; the others (and `this` inside them) are the store's own. */
export function withOverrides(store: ObjectStore, overrides: Partial<ObjectStore>): ObjectStore {
  return Object.assign(Object.create(store) as ObjectStore, overrides);
}

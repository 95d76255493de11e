import { halvesOf, outputsVersion } from '../../lambdas/core/inbox.js';
import { PREFIXES, pairKeys } from '../../lambdas/core/keys.js';
import type { ObjectStore } from '../../lambdas/core/ports.js';
import type { ModelIdentity } from '../../lambdas/core/records.js';

/**
 * Where an inbox pair's dense output for `task` is, for the halves now in the store and the model
 * that ran it (every half of the id is taken: the pair's model reads them all).
 */
export async function inboxMaskKey(store: ObjectStore, id: string, model: ModelIdentity, task: string) {
  const { images, texts } = halvesOf(await store.list(`${PREFIXES.inbox}${id}.`), id);
  const read = [...images, ...texts].map((o) => ({ key: o.key, etag: o.etag ?? '' }));
  return pairKeys.mask(id, outputsVersion(read, model), task);
}

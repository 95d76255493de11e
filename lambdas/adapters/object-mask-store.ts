import type { DenseImage } from '../core/kinds/index.js';
import type { MaskStore } from '../core/pipeline.js';
import type { ObjectStore } from '../core/ports.js';
import { encodeDensePng } from './image-codec.js';

/** Masks and other dense outputs as PNG objects in the store, under keys the caller chooses (pair or job layout). */
export function objectMaskStore(store: ObjectStore, keyFor: (pairId: string, task: string) => string): MaskStore {
  return {
    async save(pairId: string, task: string, image: DenseImage): Promise<string> {
      const key = keyFor(pairId, task);
      await store.put(key, encodeDensePng(image), 'image/png');
      return key;
    },
  };
}

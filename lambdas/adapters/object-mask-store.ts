import type { BinaryMask } from '../core/decoders/index.js';
import type { MaskStore } from '../core/pipeline.js';
import type { ObjectStore } from '../core/ports.js';
import { encodeMaskPng } from './image-codec.js';

/** Masks as PNG objects in the store, under keys the caller chooses (pair or job layout). */
export function objectMaskStore(store: ObjectStore, keyFor: (pairId: string, task: string) => string): MaskStore {
  return {
    async save(pairId: string, task: string, mask: BinaryMask): Promise<string> {
      const key = keyFor(pairId, task);
      await store.put(key, encodeMaskPng(mask), 'image/png');
      return key;
    },
  };
}

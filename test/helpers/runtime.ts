import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { PairError } from '../../lambdas/core/errors.js';
import type { BinaryMask, DenseImage } from '../../lambdas/core/kinds/index.js';
import type { MaskStore, PairSource } from '../../lambdas/core/pipeline.js';
import type { InferenceEngine, TensorData } from '../../lambdas/core/tensor.js';

export const referenceBundle = path.resolve(import.meta.dirname, '../../models/reference');
export const parityDir = path.join(referenceBundle, 'fixtures', 'parity');
export const parityPairs = path.join(parityDir, 'pairs');
export const evalDir = path.join(referenceBundle, 'fixtures', 'eval');
export const evalPairs = path.join(evalDir, 'pairs');

/** Keeps masks and other dense outputs in memory, keyed as a store would name them. */
export class MemoryMaskStore implements MaskStore {
  readonly masks = new Map<string, DenseImage>();
  async save(pairId: string, taskName: string, image: DenseImage): Promise<string> {
    const key = `${pairId}.${taskName}.png`;
    this.masks.set(key, image);
    return key;
  }
}

/** The engine, unchanged, with every batch's raw outputs kept for inspection. */
export function recordingEngine(engine: InferenceEngine): {
  engine: InferenceEngine;
  runs: Record<string, TensorData>[];
} {
  const runs: Record<string, TensorData>[] = [];
  return {
    runs,
    engine: {
      name: engine.name,
      inputs: engine.inputs,
      outputs: engine.outputs,
      close: () => engine.close(),
      async run(feeds) {
        const out = await engine.run(feeds);
        runs.push(out);
        return out;
      },
    },
  };
}

export async function readTruthLines(dir: string): Promise<Record<string, unknown>[]> {
  return (await readFile(path.join(dir, 'truth.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

export async function readMaskPng(file: string): Promise<BinaryMask> {
  const { data, info } = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data) };
}

export function memoryPair(id: string, image: Uint8Array | null, text: string | Uint8Array | null): PairSource {
  return {
    id,
    image: image ? `${id}.png` : null,
    readImage: async () => {
      if (!image) throw new PairError('IMAGE_MISSING', `no image for ${id}`);
      return image;
    },
    readText: async () => {
      if (text === null) throw new PairError('TEXT_MISSING', `no text for ${id}`);
      return text;
    },
  };
}

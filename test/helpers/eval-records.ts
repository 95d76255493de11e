/**
 * The evaluation pairs' records on the wasm engine (one thread), one JSON line each, and each
 * mask PNG's sha256: what test/runtime/records-stable.test.ts compares with its stored copy.
 * The stored copy is of masks kept as PNGs (`png`); `both` gives the same records with each
 * mask's and class map's COCO RLE beside its key.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { listFolderPairs } from '../../cli/adapters/local-files.js';
import { encodeDensePng, SharpImageDecoder } from '../../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../../lambdas/adapters/model-bundle.js';
import type { MaskFormat } from '../../lambdas/core/mask-format.js';
import { type MaskStore, runPipeline } from '../../lambdas/core/pipeline.js';
import { evalPairs, referenceBundle } from './runtime.js';

export const EVAL_RECORDS = path.resolve(import.meta.dirname, '../fixtures/eval-records.wasm.jsonl');
export const EVAL_MASKS = path.resolve(import.meta.dirname, '../fixtures/eval-masks.wasm.sha256');

/** @param wasmPaths where onnxruntime-web's files are (default: its own, in node_modules). */
export async function evalRecords(
  maskFormat: MaskFormat = 'png',
  wasmPaths?: string,
): Promise<{ lines: string[]; masks: string[] }> {
  const model = await loadModelBundle(referenceBundle, {
    engine: 'wasm',
    threads: 1,
    ...(wasmPaths ? { wasmPaths } : {}),
  });
  const masks: string[] = [];
  const store: MaskStore = {
    save: async (id, task, image) => {
      const name = `${id}.${task}.png`;
      masks.push(`${name} ${createHash('sha256').update(encodeDensePng(image)).digest('hex')}`);
      return `masks/${name}`;
    },
  };
  const lines: string[] = [];
  try {
    const records = runPipeline(await listFolderPairs(evalPairs), {
      model,
      images: new SharpImageDecoder(),
      masks: store,
      maskFormat,
    });
    for await (const record of records) lines.push(JSON.stringify(record));
  } finally {
    await model.engine.close();
  }
  return { lines, masks: masks.sort() };
}

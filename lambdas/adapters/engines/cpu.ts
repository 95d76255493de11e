/** `cpu`: onnxruntime-node, native CPU execution provider. */
import { createRequire } from 'node:module';
import { EngineError } from '../../core/errors.js';
import type { InferenceEngine } from '../../core/tensor.js';
import type { EngineOptions } from './index.js';
import { OrtEngine } from './ort-engine.js';

export async function createCpuEngine(model: Uint8Array, options: EngineOptions): Promise<InferenceEngine> {
  // Loaded here, not at the top: a wasm bundle keeps onnxruntime-node external and never loads it.
  // Through require, not import(): in a cpu Lambda it is in a layer, which only CommonJS
  // resolution finds (NODE_PATH); locally it is in node_modules, which both find.
  const ort = createRequire(import.meta.url)('onnxruntime-node') as typeof import('onnxruntime-node');
  try {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['cpu'],
      intraOpNumThreads: options.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
    return new OrtEngine('cpu', session, ort.Tensor, false);
  } catch (error) {
    throw new EngineError(`the cpu engine (onnxruntime-node) could not load the model: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

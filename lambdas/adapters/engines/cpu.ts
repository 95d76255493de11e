/** `cpu`: onnxruntime-node, native CPU execution provider. */
import { EngineError } from '../../core/errors.js';
import type { InferenceEngine } from '../../core/tensor.js';
import type { EngineOptions } from './index.js';
import { OrtEngine } from './ort-engine.js';

export async function createCpuEngine(model: Uint8Array, options: EngineOptions): Promise<InferenceEngine> {
  // Imported here, not at the top: a bundle (the Lambda's) keeps onnxruntime-node external and never loads it.
  const ort = await import('onnxruntime-node');
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

/**
 * `cuda`: onnxruntime-node with the CUDA execution provider only. There is no CPU entry in
 * the provider list, so a machine where CUDA cannot load fails here with an EngineError
 * instead of running silently on the CPU.
 */
import { EngineError } from '../../core/errors.js';
import type { InferenceEngine } from '../../core/tensor.js';
import type { EngineOptions } from './index.js';
import { OrtEngine } from './ort-engine.js';

export async function createCudaEngine(model: Uint8Array, options: EngineOptions): Promise<InferenceEngine> {
  // Imported here, not at the top: a bundle (the Lambda's) keeps onnxruntime-node external and never loads it.
  const ort = await import('onnxruntime-node');
  const backends = ort.listSupportedBackends?.() ?? [];
  if (!backends.some((b) => b.name === 'cuda')) {
    throw new EngineError(
      `the cuda engine needs onnxruntime-node's CUDA build; this installation offers ${backends.map((b) => b.name).join(', ') || 'no backends'}` +
        ' (install it with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with CUDA 12 and cuDNN 9)',
    );
  }
  try {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: [{ name: 'cuda', deviceId: options.deviceId ?? 0 }],
      intraOpNumThreads: options.threads,
      graphOptimizationLevel: 'all',
    });
    return new OrtEngine('cuda', session, ort.Tensor, false);
  } catch (error) {
    throw new EngineError(`the CUDA execution provider could not start: ${(error as Error).message}`, { cause: error });
  }
}

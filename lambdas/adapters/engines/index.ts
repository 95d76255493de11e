/**
 * Engines by name. Each engine's module is imported only when chosen, so a Lambda bundle
 * with the wasm engine never loads onnxruntime-node, and the other way round.
 */
import type { EngineName, InferenceEngine } from '../../core/tensor.js';

export interface EngineOptions {
  /** Threads for one inference (intra-op threads; WebAssembly worker threads). */
  readonly threads: number;
  /** wasm: where ort-wasm-simd-threaded.{mjs,wasm} are, when not beside onnxruntime-web (a bundled Lambda). */
  readonly wasmPaths?: string;
  /** cuda: the GPU to use. */
  readonly deviceId?: number;
  /**
   * Host the engine in a worker thread, so inference overlaps the decoding and writing done on
   * this thread (engine-thread.ts). Default false: the engine runs on the calling thread.
   */
  readonly inWorkerThread?: boolean;
}

export async function createEngine(
  name: EngineName,
  model: Uint8Array,
  options: EngineOptions,
): Promise<InferenceEngine> {
  if (!Number.isInteger(options.threads) || options.threads < 1) {
    throw new RangeError(`threads must be a positive integer, got ${options.threads}`);
  }
  if (options.inWorkerThread) return (await import('./engine-thread.js')).createThreadedEngine(name, model, options);
  switch (name) {
    case 'wasm':
      return (await import('./wasm.js')).createWasmEngine(model, options);
    case 'cpu':
      return (await import('./cpu.js')).createCpuEngine(model, options);
    case 'cuda':
      return (await import('./cuda.js')).createCudaEngine(model, options);
  }
}

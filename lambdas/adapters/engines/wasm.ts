/**
 * `wasm`: onnxruntime-web's WebAssembly SIMD build (the Lambda engine). Its thread count is
 * process-wide and fixed by the first session, so it is set here before any session and a
 * later request for another count is an error rather than silently ignored.
 */
import { setFlagsFromString } from 'node:v8';
import * as ort from 'onnxruntime-web';
import { EngineError } from '../../core/errors.js';
import type { InferenceEngine } from '../../core/tensor.js';
import type { EngineOptions } from './index.js';
import { OrtEngine } from './ort-engine.js';

let fixedThreads: number | undefined;

/**
 * V8 moves a WebAssembly function to its optimising compiler once it has run a budget of work
 * (1.8 M by default). onnxruntime's session creation and first run then trigger optimising
 * compiles of hundreds of functions that are barely used again, competing for the CPU:
 * measured here, a 100 M budget took session creation from 460 to 290 ms and the first run
 * from 190 to 55 ms, with the same steady throughput (the hot kernels still tier up).
 */
const WASM_TIERING_BUDGET = 100_000_000;

export async function createWasmEngine(model: Uint8Array, options: EngineOptions): Promise<InferenceEngine> {
  if (fixedThreads !== undefined && fixedThreads !== options.threads) {
    throw new EngineError(
      `the wasm engine already runs with ${fixedThreads} thread(s) in this process; it cannot switch to ${options.threads}`,
    );
  }
  fixedThreads = options.threads;
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
  ort.env.wasm.numThreads = options.threads;
  if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  try {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    return new OrtEngine('wasm', session, ort.Tensor, true);
  } catch (error) {
    throw new EngineError(`the wasm engine (onnxruntime-web) could not load the model: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

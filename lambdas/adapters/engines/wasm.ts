/**
 * `wasm`: onnxruntime-web's WebAssembly SIMD build (the Lambda engine). Its thread count is
 * process-wide and fixed by the first session, so it is set here before any session and a
 * later request for another count is an error rather than silently ignored.
 */
import path from 'node:path';
import * as ort from 'onnxruntime-web';
import { EngineError } from '../../core/errors.js';
import type { InferenceEngine } from '../../core/tensor.js';
import type { EngineOptions } from './index.js';
import { OrtEngine } from './ort-engine.js';
import { precompiled, setWasmTiering, WASM_FILE, withPrecompiledWasm } from './wasm-precompile.js';

let fixedThreads: number | undefined;

export async function createWasmEngine(model: Uint8Array, options: EngineOptions): Promise<InferenceEngine> {
  if (fixedThreads !== undefined && fixedThreads !== options.threads) {
    throw new EngineError(
      `the wasm engine already runs with ${fixedThreads} thread(s) in this process; it cannot switch to ${options.threads}`,
    );
  }
  fixedThreads = options.threads;
  setWasmTiering();
  ort.env.wasm.numThreads = options.threads;
  if (options.wasmPaths) ort.env.wasm.wasmPaths = options.wasmPaths;
  // Compiled ahead by the entry point (wasm-precompile.ts), where it did: not again here.
  const ahead = options.wasmPaths ? precompiled(path.join(options.wasmPaths, WASM_FILE)) : undefined;
  if (ahead) ort.env.wasm.wasmBinary = ahead.token;
  const create = () =>
    ort.InferenceSession.create(model, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
  try {
    const session = await (ahead ? withPrecompiledWasm(ahead, create) : create());
    return new OrtEngine('wasm', session, ort.Tensor, true);
  } catch (error) {
    throw new EngineError(`the wasm engine (onnxruntime-web) could not load the model: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Imported first by the ingest entry point, for its side effect: where the function runs the
 * wasm engine, onnxruntime-web's WebAssembly starts compiling now, on V8's background threads,
 * while the rest of the bundle is evaluated and the model read (wasm-precompile.ts). It reads
 * the two variables itself: the environment's schema is evaluated after this module. Small on
 * purpose (node: modules and the precompile alone), so that nothing heavy is evaluated before it.
 * Not for the worker entry point: its engine runs in a thread of its own.
 */
import path from 'node:path';
import { startWasmCompile, WASM_FILE } from '../adapters/engines/wasm-precompile.js';
import { ENV_NAMES } from '../core/env-names.js';
import { wasmDir } from './bundle-files.js';

// The schema's default engine is wasm (env.ts).
if ((process.env[ENV_NAMES.engine] || 'wasm') === 'wasm') {
  const dir = wasmDir(process.env[ENV_NAMES.wasmDir] || undefined);
  if (dir) startWasmCompile(path.join(dir, WASM_FILE));
}

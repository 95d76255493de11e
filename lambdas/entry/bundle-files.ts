/** Where a deployed entry point finds the files its Lambda package keeps beside the bundle. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WASM_FILE } from '../adapters/engines/wasm-precompile.js';

/** The folder of the running bundle: the Lambda package keeps model/ and the WASM files here. */
export const bundleDir = path.dirname(fileURLToPath(import.meta.url));

/** Where onnxruntime-web's files are: `configured` (FUSEBATCH_WASM_DIR), or beside the bundle; unbundled, undefined (its own). */
export function wasmDir(configured: string | undefined): string | undefined {
  return configured ?? (existsSync(path.join(bundleDir, WASM_FILE)) ? bundleDir : undefined);
}

/**
 * The wasm engine's WebAssembly compiled ahead (what the ingest entry point starts before its
 * other modules): the engine instantiates that module, never compiling the bytes a second
 * time, puts WebAssembly.instantiate back as it was, and gives the evaluation set's records
 * byte for byte. A file that is not there starts nothing, and the engine loads as usual.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { precompiled, startWasmCompile, WASM_FILE } from '../../lambdas/adapters/engines/wasm-precompile.js';
import { EVAL_RECORDS, evalRecords } from '../helpers/eval-records.js';

/** onnxruntime-web's files, as the Lambda package keeps them beside the bundle (lib/lambda-engine.ts). */
const dist = path.resolve(import.meta.dirname, '../../node_modules/onnxruntime-web/dist');

/** The WebAssembly global, typed for what is used here (the project's types have no DOM library). */
type Instantiate = (what: unknown, imports?: object) => Promise<unknown>;
const wasm = (
  globalThis as unknown as { WebAssembly: { instantiate: Instantiate; Module: new (bytes: ArrayBuffer) => object } }
).WebAssembly;

describe('The wasm engine, compiled ahead', () => {
  it('starts nothing for a file that is not there', () => {
    const missing = path.join(dist, 'no-such.wasm');
    startWasmCompile(missing);
    expect(precompiled(missing)).toBeUndefined();
  });

  it('instantiates the module compiled ahead instead of the bytes, and gives the same records', async () => {
    // Prepare
    startWasmCompile(path.join(dist, WASM_FILE));
    expect(precompiled(path.join(dist, WASM_FILE))).toBeDefined();
    const instantiated: unknown[] = [];
    const real = wasm.instantiate;
    const spy: Instantiate = (what, imports) => {
      instantiated.push(what);
      return real.call(wasm, what, imports);
    };
    wasm.instantiate = spy;
    try {
      // Act
      const { lines } = await evalRecords('png', `${dist}/`);
      // Assess
      expect(instantiated.length).toBeGreaterThan(0);
      expect(instantiated.every((what) => what instanceof wasm.Module)).toBe(true);
      expect(wasm.instantiate).toBe(spy);
      const expected = (await readFile(EVAL_RECORDS, 'utf8')).split('\n').filter(Boolean);
      expect(lines).toEqual(expected);
    } finally {
      wasm.instantiate = real;
    }
  });
});

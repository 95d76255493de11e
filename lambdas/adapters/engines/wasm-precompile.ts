/**
 * onnxruntime-web's WebAssembly (14 MB), compiled ahead of its session. onnxruntime-web reads
 * the file and compiles it only once the first session is created, when everything else at
 * init is done, and the main thread waits for it. An entry point that starts the compile before
 * its other modules are evaluated has it done on V8's background threads meanwhile; the wasm
 * engine then instantiates that module instead of compiling the bytes again.
 *
 * Deliberately small (node:fs and node:v8 alone): an entry point imports it first, so that it
 * is evaluated before the SDK, sharp and the rest.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';

export const WASM_FILE = 'ort-wasm-simd-threaded.wasm';

/** The part of the WebAssembly global used here (the project's types have no DOM library). */
type WasmModule = object;
type Instantiate = (source: ArrayBufferView | ArrayBuffer | WasmModule, imports?: object) => Promise<unknown>;
interface WasmApi {
  compile(bytes: ArrayBufferView | ArrayBuffer): Promise<WasmModule>;
  instantiate: Instantiate;
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Precompiled {
  /**
   * What the engine gives onnxruntime-web as its wasmBinary (so that it reads no file): an empty
   * buffer standing for the module, recognised by identity. The bytes themselves are not kept:
   * V8 holds what it needs of them.
   */
  readonly token: ArrayBuffer;
  readonly module: Promise<WasmModule>;
}

/**
 * V8 moves a WebAssembly function to its optimising compiler once it has run a budget of work
 * (1.8 M by default). onnxruntime's session creation and first run then trigger optimising
 * compiles of hundreds of functions that are barely used again, competing for the CPU:
 * measured here, a 100 M budget took session creation from 460 to 290 ms and the first run
 * from 190 to 55 ms, with the same steady throughput (the hot kernels still tier up).
 */
const WASM_TIERING_BUDGET = 100_000_000;

/** V8 reads the budget when it compiles a module: set before any compile of the engine's WebAssembly. */
export function setWasmTiering(): void {
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
}

const started = new Map<string, Precompiled>();

/**
 * Reads `file` (synchronously: the compile must begin before the caller's module evaluation
 * goes on) and starts compiling it. A file that cannot be read starts nothing (the engine then
 * reads it itself, as without this); one that does not compile fails the engine with V8's error.
 */
export function startWasmCompile(file: string): void {
  if (started.has(file)) return;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return;
  }
  setWasmTiering();
  // V8 copies the bytes it compiles: the file's buffer is not kept.
  const module = wasm.compile(bytes);
  // Awaited (and its failure seen) only if the engine uses it.
  module.catch(() => undefined);
  started.set(file, { token: new ArrayBuffer(0), module });
}

/** The compile started for `file`, if any: its token and the module to come. */
export function precompiled(file: string): Precompiled | undefined {
  return started.get(file);
}

/**
 * Runs `create` (which must be what makes onnxruntime-web instantiate its WebAssembly: the first
 * session of the process), with `source.token` as onnxruntime-web's wasmBinary, and
 * WebAssembly.instantiate answering a call for that token with the compiled module.
 * Emscripten calls instantiate(bytes, imports) and reads { module, instance } (the module goes
 * to its worker threads); any other call passes through, and the original is back when done.
 */
export async function withPrecompiledWasm<T>(source: Precompiled, create: () => Promise<T>): Promise<T> {
  const compiled = await source.module;
  const original = wasm.instantiate;
  let used = false;
  const instantiate: Instantiate = async (what, imports) => {
    const buffer = ArrayBuffer.isView(what) ? what.buffer : what;
    if (!used && buffer === source.token) {
      used = true;
      return { module: compiled, instance: await original.call(wasm, compiled, imports) };
    }
    return original.call(wasm, what, imports);
  };
  wasm.instantiate = instantiate;
  try {
    return await create();
  } finally {
    if (wasm.instantiate === instantiate) wasm.instantiate = original;
  }
}

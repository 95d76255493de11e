/**
 * What a Lambda package carries for its inference engine (config `lambdaEngine`), apart from
 * the rest of the construct so that the choice touches fused-inference-pipeline.ts in a few
 * lines. `wasm`: onnxruntime-web bundled, its two WebAssembly SIMD files beside the handler,
 * and no engine layer. `cpu`: onnxruntime-node in a layer of its own, under nodejs/node_modules
 * (where Lambda's NODE_PATH looks; engines/cpu.ts loads it with a CommonJS require, which
 * honours NODE_PATH), with only its JavaScript, onnxruntime-common's CommonJS build and its
 * Linux CPU binaries for the function's architecture; never other platforms, and never a CUDA
 * or TensorRT provider library, even where an install script has put one beside them.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { WASM_FILE } from '../lambdas/adapters/engines/wasm-precompile.js';
import type { PipelineConfig } from './config.js';

export type LambdaEngine = PipelineConfig['lambdaEngine'];

/**
 * onnxruntime-web's files, found by the bundle through FUSEBATCH_WASM_DIR's default (deps.ts);
 * the WebAssembly one is also the file ingest compiles ahead (a name the two must agree on).
 */
export const WASM_FILES = [WASM_FILE, 'ort-wasm-simd-threaded.mjs'];

/** The CPU runtime and its Node binding: all that onnxruntime-node loads for the CPU provider. */
const ORT_NATIVE_FILE = /^(libonnxruntime\.so(\.\d+)*|onnxruntime_binding\.node)$/;

export interface PackagedFile {
  /** Where the file comes from (absolute). */
  readonly from: string;
  /** Where it goes, relative to the function package's or the layer's root. */
  readonly to: string;
}

export interface EnginePackaging {
  /** Modules esbuild leaves out of the bundle: in the engine's layer, or never loaded. */
  readonly externalModules: string[];
  /** Files copied into the function package, beside the handler. */
  readonly files: readonly PackagedFile[];
  /** Files of the engine's layer (under nodejs/node_modules/); none: no layer. */
  readonly layerFiles: readonly PackagedFile[];
}

/** Where Lambda's NODE_PATH looks in a layer for Node.js runtimes. */
export const LAYER_NODE_MODULES = 'nodejs/node_modules';

/** Copies the layer's files into `outDir` (a fresh folder), and returns it. */
export function stageLayer(files: readonly PackagedFile[], outDir: string): string {
  for (const f of files) {
    const to = path.join(outDir, f.to);
    mkdirSync(path.dirname(to), { recursive: true });
    copyFileSync(f.from, to);
  }
  return outDir;
}

/** Files of a folder (recursively) whose package-relative path passes `keep`. */
function filesUnder(dir: string, keep: (rel: string) => boolean, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const child = path.posix.join(rel, e.name);
    if (e.isDirectory()) return filesUnder(dir, keep, child);
    return keep(child) ? [child] : [];
  });
}

/** onnxruntime-node's Linux binaries for one architecture (`bin/napi-v*\/linux/<arch>/`), package-relative. */
export function ortNodeLinuxBinaries(root: string, architecture: PipelineConfig['architecture']): string[] {
  const arch = architecture === 'arm64' ? 'arm64' : 'x64';
  const bin = path.join(root, 'node_modules/onnxruntime-node/bin');
  const found = existsSync(bin)
    ? readdirSync(bin)
        .filter((napi) => /^napi-v\d+$/.test(napi) && existsSync(path.join(bin, napi, 'linux', arch)))
        .flatMap((napi) =>
          readdirSync(path.join(bin, napi, 'linux', arch))
            .filter((f) => ORT_NATIVE_FILE.test(f))
            .map((f) => `bin/${napi}/linux/${arch}/${f}`),
        )
    : [];
  if (
    !found.some((f) => f.endsWith('/onnxruntime_binding.node')) ||
    !found.some((f) => f.includes('/libonnxruntime'))
  ) {
    throw new Error(
      `fusebatch: the cpu engine on ${architecture} needs onnxruntime-node's linux/${arch} binaries in ${bin} (npm ci installs them)`,
    );
  }
  return found;
}

export function enginePackaging(
  root: string,
  engine: LambdaEngine,
  architecture: PipelineConfig['architecture'],
): EnginePackaging {
  const modules = path.join(root, 'node_modules');
  if (engine === 'wasm') {
    return {
      // The wasm package never loads onnxruntime-node (engines/index.ts imports engines by name).
      externalModules: ['onnxruntime-node'],
      files: WASM_FILES.map((f) => ({ from: path.join(modules, 'onnxruntime-web/dist', f), to: f })),
      layerFiles: [],
    };
  }
  // Its JavaScript (no source maps or typings), its dependency onnxruntime-common as require()
  // resolves it (dist/cjs), and the native files; adm-zip and global-agent serve only its install script.
  const nodeFiles = [
    ...filesUnder(
      path.join(modules, 'onnxruntime-node'),
      (rel) => rel === 'package.json' || /^dist\/[^/]+\.js$/.test(rel),
    ),
    ...ortNodeLinuxBinaries(root, architecture),
  ].map((rel) => `onnxruntime-node/${rel}`);
  const commonFiles = filesUnder(
    path.join(modules, 'onnxruntime-common'),
    (rel) => rel === 'package.json' || /^dist\/cjs\/.*(\.js|package\.json)$/.test(rel),
  ).map((rel) => `onnxruntime-common/${rel}`);
  return {
    // onnxruntime-web's JavaScript stays in the bundle (wasm.ts imports it statically, and one
    // bundle file hoists that import to its top); its WebAssembly files are not shipped.
    externalModules: ['onnxruntime-node'],
    files: [],
    // In a layer: the native runtime (17.5 MB zipped on x86_64) would otherwise be most of the
    // function package; CommonJS resolution finds it through NODE_PATH, and onnxruntime-node's
    // own require('onnxruntime-common') finds its sibling there.
    layerFiles: [...nodeFiles, ...commonFiles].map((rel) => ({
      from: path.join(modules, rel),
      to: path.posix.join(LAYER_NODE_MODULES, rel),
    })),
  };
}

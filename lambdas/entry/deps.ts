/**
 * Adapters for the deployed entry points, built once per process (module scope in Lambda,
 * so that WebAssembly compilation and session creation happen at init, not per event).
 */
import path from 'node:path';
import { SharpImageDecoder } from '../adapters/image-codec.js';
import { loadModelBundle } from '../adapters/model-bundle.js';
import { objectMaskStore } from '../adapters/object-mask-store.js';
import { createS3Client, S3ObjectStore } from '../adapters/s3-store.js';
import type { BucketPipelineDeps } from '../core/bucket-pipeline.js';
import type { MaskFormat } from '../core/mask-format.js';
import type { EngineName } from '../core/tensor.js';
import { bundleDir, wasmDir } from './bundle-files.js';

export interface PipelineEnv {
  readonly FUSEBATCH_BUCKET: string;
  readonly FUSEBATCH_MODEL_DIR?: string;
  readonly FUSEBATCH_S3_ENDPOINT?: string;
  readonly FUSEBATCH_THREADS: number;
  readonly FUSEBATCH_ENGINE: EngineName;
  readonly FUSEBATCH_WASM_DIR?: string;
  readonly FUSEBATCH_MASKS: MaskFormat;
}

/** onnxruntime-web resolves its files by this prefix: a folder path with a trailing slash. */
function wasmLocation(dir: string | undefined): { wasmPaths?: string } {
  const found = wasmDir(dir);
  // Unbundled (from source), onnxruntime-web finds its own files in node_modules.
  return found ? { wasmPaths: `${found}/` } : {};
}

/**
 * @param inWorkerThread host the engine in a worker thread (engine-worker.mjs beside the
 * bundle): chunks overlap inference with decoding and writing; a single pair gains nothing.
 */
export async function createPipelineDeps(env: PipelineEnv, inWorkerThread: boolean): Promise<BucketPipelineDeps> {
  const store = new S3ObjectStore(
    createS3Client({ bucket: env.FUSEBATCH_BUCKET, endpoint: env.FUSEBATCH_S3_ENDPOINT }),
    env.FUSEBATCH_BUCKET,
  );
  const model = await loadModelBundle(env.FUSEBATCH_MODEL_DIR ?? path.join(bundleDir, 'model'), {
    engine: env.FUSEBATCH_ENGINE,
    threads: env.FUSEBATCH_THREADS,
    inWorkerThread,
    ...(env.FUSEBATCH_ENGINE === 'wasm' ? wasmLocation(env.FUSEBATCH_WASM_DIR) : {}),
  });
  return {
    store,
    model,
    images: new SharpImageDecoder(),
    masks: (keyFor) => objectMaskStore(store, keyFor),
    maskFormat: env.FUSEBATCH_MASKS,
  };
}

/**
 * The GPU container's build context, staged at synth. The batch-worker entry is bundled with
 * esbuild as the Lambda functions are, beside its engine thread's module and the model; its
 * package.json names only the native packages the bundle leaves out (onnxruntime-node with its
 * CUDA 12 libraries, and sharp), so the image installs those two and nothing else: none of the
 * CLI's, local mode's or the CDK app's dependencies (aws-cdk-lib, s3rver, DuckDB, playwright).
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildSync } from 'esbuild';

/** What the bundle imports but cannot carry: native code, installed in the image for its platform. */
export const BATCH_NATIVE_PACKAGES = ['onnxruntime-node', 'sharp'] as const;

/** The Dockerfile the staged context is built with (copied into it as Dockerfile). */
export const BATCH_DOCKERFILE = 'batch/Dockerfile';

/** Bundled CommonJS code (and sharp's loader) calls require: an ESM bundle gets one (here and the Lambda bundles). */
export const REQUIRE_BANNER =
  "import { createRequire as __fusebatchRequire } from 'node:module'; const require = __fusebatchRequire(import.meta.url);";

/** Bundles one entry; returns the npm packages it took in (from esbuild's metafile). */
function bundle(root: string, entry: string, outfile: string): string[] {
  const { metafile } = buildSync({
    entryPoints: [path.join(root, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    external: [...BATCH_NATIVE_PACKAGES, '@img/*'],
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
    metafile: true,
  });
  const packages = Object.keys(metafile.inputs).flatMap((input) => {
    const match = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    return match ? [match[1]] : [];
  });
  return [...new Set(packages)];
}

export interface StagedBatchImage {
  /** The build context: Dockerfile and app/. */
  readonly dir: string;
  /** npm packages bundled into app/'s two modules (what the image carries besides the native two). */
  readonly bundledPackages: readonly string[];
}

/**
 * Writes the build context into `outDir`: Dockerfile, and app/ with index.mjs (the entry),
 * engine-worker.mjs, model/ and package.json.
 */
export function stageBatchImage(
  root: string,
  modelDir: string,
  modelFiles: readonly string[],
  outDir: string,
): StagedBatchImage {
  const app = path.join(outDir, 'app');
  mkdirSync(path.join(app, 'model'), { recursive: true });
  const bundled = [
    ...bundle(root, 'lambdas/entry/batch-worker.ts', path.join(app, 'index.mjs')),
    // The engine runs in a worker thread, which loads engine-worker.mjs from beside the bundle.
    ...bundle(root, 'lambdas/adapters/engines/engine-worker.ts', path.join(app, 'engine-worker.mjs')),
  ];
  for (const file of modelFiles) copyFileSync(path.join(modelDir, file), path.join(app, 'model', file));
  // The versions the project was tested with, exactly.
  const version = (name: string) =>
    (JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version;
  const manifest = {
    name: 'fusebatch-batch-worker',
    private: true,
    type: 'module',
    dependencies: Object.fromEntries(BATCH_NATIVE_PACKAGES.map((name) => [name, version(name)])),
  };
  writeFileSync(path.join(app, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  copyFileSync(path.join(root, BATCH_DOCKERFILE), path.join(outDir, 'Dockerfile'));
  return { dir: outDir, bundledPackages: [...new Set(bundled)].sort() };
}

/** The Lambda packages the CDK app synthesizes: their folders in the cloud assembly, and their zipped size. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { buildApp } from '../../lib/app.js';
import { removeStaged } from '../../lib/staging.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface LambdaAssets {
  readonly ingest: string;
  readonly worker: string;
  /** The sharp layer's folder (its nodejs/node_modules is where Lambda's NODE_PATH looks). */
  readonly sharpLayer: string;
  /** The engine's layer (onnxruntime-node, lambdaEngine cpu), when the stack has one. */
  readonly engineLayer?: string;
  /** Each function's environment variables as synthesized. */
  readonly environment: { readonly ingest: Record<string, unknown>; readonly worker: Record<string, unknown> };
}

/** Synthesizes the app into `outdir` (bundling with esbuild) and returns each function's package folder, and the layer's. */
export function synthesizeLambdaAssets(outdir: string, extraContext: Record<string, string> = {}): LambdaAssets {
  const context = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;
  const { app, stack } = buildApp({ context: { ...context, ...extraContext }, outdir });
  const assembly = app.synth();
  // The tests read the packages from the assembly, as a deploy would, not from the staging folders.
  removeStaged();
  const template = assembly.getStackByName(stack.stackName).template as {
    Resources: Record<
      string,
      {
        Type: string;
        Properties: {
          Code?: { S3Key?: string };
          Content?: { S3Key?: string };
          Environment?: { Variables?: Record<string, unknown> };
        };
      }
    >;
  };
  const fn = (prefix: string) => {
    const found = Object.entries(template.Resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
    );
    if (!found?.[1].Properties.Code?.S3Key) throw new Error(`no ${prefix} function in the template`);
    return found[1].Properties;
  };
  const folder = (prefix: string) => path.join(outdir, `asset.${fn(prefix).Code!.S3Key!.replace(/\.zip$/, '')}`);
  const variables = (prefix: string) => fn(prefix).Environment?.Variables ?? {};
  const layer = (prefix: string) => {
    const key = Object.entries(template.Resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::LayerVersion' && new RegExp(`^${prefix}[0-9A-F]{8}$`).test(id),
    )?.[1].Properties.Content?.S3Key;
    return key ? path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`) : undefined;
  };
  const sharpLayer = layer('PipelineSharpLayer');
  if (!sharpLayer) throw new Error('no sharp layer in the template');
  const engineLayer = layer('PipelineOnnxRuntimeLayer');
  return {
    ingest: folder('PipelineIngest'),
    worker: folder('PipelineWorker'),
    sharpLayer,
    ...(engineLayer ? { engineLayer } : {}),
    environment: { ingest: variables('PipelineIngest'), worker: variables('PipelineWorker') },
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(full) : [full];
  });
}

/**
 * What Lambda sets for a function with layers: NODE_PATH at each layer's nodejs/node_modules
 * (Lambda's own list holds /opt/nodejs/node_modules, where every layer's nodejs/ is extracted).
 */
export const layerEnv = (assets: LambdaAssets) => ({
  NODE_PATH: [assets.sharpLayer, ...(assets.engineLayer ? [assets.engineLayer] : [])]
    .map((layer) => path.join(layer, 'nodejs/node_modules'))
    .join(path.delimiter),
});

/**
 * The size of the folder as a zip at deflate level 9: each file's compressed bytes plus its
 * local and central headers, and the end record (what `zip -9` and CDK's packaging produce, within bytes).
 */
export function zippedSize(dir: string): { bytes: number; unzippedBytes: number; files: number } {
  const files = filesUnder(dir);
  let bytes = 22;
  let unzippedBytes = 0;
  for (const file of files) {
    const name = Buffer.byteLength(path.relative(dir, file));
    const data = readFileSync(file);
    unzippedBytes += statSync(file).size;
    bytes += Math.min(deflateRawSync(data, { level: 9 }).length, data.length) + 30 + 46 + 2 * name;
  }
  return { bytes, unzippedBytes, files: files.length };
}

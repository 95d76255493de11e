/**
 * Model bundles on disk: a folder with model.json, the ONNX file and what the text input needs
 * (a tokenizer or a word-vector file), if the model reads text. Every
 * problem is collected and reported at once, each with the manifest field it concerns.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ModelBundleError } from '../core/errors.js';
import { batchLimit, checkManifestAgainstGraph } from '../core/graph-check.js';
import { formatIssues, type ModelManifest, ModelManifestSchema } from '../core/manifest.js';
import type { RuntimeModel } from '../core/pipeline.js';
import type { EngineName } from '../core/tensor.js';
import type { TextInputEncoder } from '../core/text.js';
import { createEngine, type EngineOptions } from './engines/index.js';
import { HuggingFaceTokenizer } from './tokenizer.js';
import { loadWordVectors } from './word-vectors.js';

export interface BundleOptions extends EngineOptions {
  readonly engine: EngineName;
}

async function readOrProblem(file: string, field: string, problems: string[]): Promise<Buffer | null> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`${field}: cannot read ${file} (${code === 'ENOENT' ? 'no such file' : (error as Error).message})`);
    return null;
  }
}

/** The manifest alone, validated: for tools that do not run the model. */
export async function readManifest(dir: string): Promise<ModelManifest> {
  const problems: string[] = [];
  const raw = await readOrProblem(path.join(dir, 'model.json'), 'model.json', problems);
  if (!raw) throw new ModelBundleError(dir, problems);
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new ModelBundleError(dir, [`model.json: not valid JSON (${(error as Error).message})`]);
  }
  const parsed = ModelManifestSchema.safeParse(json);
  if (!parsed.success)
    throw new ModelBundleError(
      dir,
      formatIssues(parsed.error).map((p) => `model.json ${p}`),
    );
  return parsed.data;
}

/** The text input's tokenizer or word vectors, or a problem naming the field. */
async function loadText(
  dir: string,
  manifest: ModelManifest,
  problems: string[],
): Promise<TextInputEncoder | undefined> {
  const text = manifest.inputs.text;
  if (!text) return undefined;
  if ('vectors' in text) {
    try {
      const vectors = await loadWordVectors(path.join(dir, text.vectors));
      if (text.oov !== 'zero' && vectors.indexOf(text.oov.word) < 0) {
        problems.push(`inputs.text.oov: '${text.oov.word}' is not a word of ${text.vectors}`);
      }
      return vectors;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : (error as Error).message;
      problems.push(`inputs.text.vectors: cannot read ${path.join(dir, text.vectors)} (${why})`);
      return undefined;
    }
  }
  const bytes = await readOrProblem(path.join(dir, text.tokenizer), 'inputs.text.tokenizer', problems);
  if (!bytes) return undefined;
  try {
    return new HuggingFaceTokenizer(JSON.parse(bytes.toString('utf8')), text.padTokenId);
  } catch (error) {
    problems.push(`inputs.text.tokenizer: ${text.tokenizer} is not a usable tokenizer (${(error as Error).message})`);
    return undefined;
  }
}

export async function loadModelBundle(dir: string, options: BundleOptions): Promise<RuntimeModel> {
  const manifest = await readManifest(dir);
  const problems: string[] = [];
  const modelBytes = await readOrProblem(path.join(dir, manifest.model), 'model', problems);
  const text = await loadText(dir, manifest, problems);
  if (!modelBytes || problems.length) throw new ModelBundleError(dir, problems);

  const engine = await createEngine(options.engine, modelBytes, options);
  const vectorDim = text?.kind === 'vectors' ? text.dim : undefined;
  const graphProblems = checkManifestAgainstGraph(manifest, engine.inputs, engine.outputs, vectorDim);
  if (graphProblems.length) {
    await engine.close();
    throw new ModelBundleError(
      dir,
      graphProblems.map((p) => `model.json ${p}`),
    );
  }
  return {
    manifest,
    identity: {
      name: manifest.name,
      version: manifest.version,
      sha256: createHash('sha256').update(modelBytes).digest('hex'),
    },
    engine,
    text,
    batchLimit: batchLimit(manifest, engine.inputs),
  };
}

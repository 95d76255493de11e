/** `fusebatch init-model model.onnx [--out DIR]`: a draft model.json from the graph, and what to fill in. */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createEngine } from '../lambdas/adapters/engines/index.js';
import { FusebatchError } from '../lambdas/core/errors.js';
import { draftManifest } from '../lambdas/core/init-model.js';

export interface InitModelOptions {
  /** The bundle folder to write model.json into (default: the ONNX file's folder). */
  readonly out?: string;
  /** Overwrite an existing model.json. */
  readonly force?: boolean;
}

export async function initModel(
  onnxFile: string,
  options: InitModelOptions,
): Promise<{ file: string; notes: string[] }> {
  const out = path.resolve(options.out ?? path.dirname(onnxFile));
  const file = path.join(out, 'model.json');
  if (
    !options.force &&
    (await access(file).then(
      () => true,
      () => false,
    ))
  ) {
    throw new FusebatchError(`${file} exists: give --out another folder, or --force to overwrite it`);
  }
  // The graph's signature through onnxruntime-node (the engine is closed at once).
  const engine = await createEngine('cpu', await readFile(onnxFile), { threads: 1 });
  const { inputs, outputs } = engine;
  await engine.close();
  const draft = draftManifest(inputs, outputs, {
    // model.onnx says nothing: then the folder's name.
    name: (path.basename(onnxFile, path.extname(onnxFile)) === 'model'
      ? path.basename(path.dirname(path.resolve(onnxFile)))
      : path.basename(onnxFile, path.extname(onnxFile))
    ).toLowerCase(),
    model: path.relative(out, path.resolve(onnxFile)).split(path.sep).join('/'),
  });
  await mkdir(out, { recursive: true });
  await writeFile(file, JSON.stringify(draft.manifest, null, 2) + '\n');
  return { file, notes: draft.notes };
}

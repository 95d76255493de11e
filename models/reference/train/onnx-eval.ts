/**
 * The reference model in ONNX Runtime (onnxruntime-node, CPU): just enough loading,
 * preprocessing and scoring to measure the exported model against the shapes-world
 * ground truth. The project's runtime (lambdas/) is the general version of this; this
 * file stays small and independent of it so that the model's own numbers do not depend
 * on the code they are later used to check.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

export interface Truth {
  id: string;
  image: string;
  text: string;
  width: number;
  height: number;
  shape: string;
  colors: string[];
  count: number;
  match: number;
  mask?: string;
  /** Detection truth: boxes in pixels of the delivered image, top-left origin. */
  objects?: { label: string; box: { x: number; y: number; width: number; height: number } }[];
  /** Semantic segmentation truth: an 8-bit greyscale PNG of class indices, relative to truth.jsonl. */
  scene?: string;
  /** The drawn scene (not a task): its caption and objects, in pixels of the 128 px canvas. */
  world: { caption: string; objects: SceneObject[] };
}

export interface SceneObject {
  shape: string;
  color: string;
  size: 'small' | 'large';
  r: number;
  cx: number;
  cy: number;
  rgb: number[];
}

interface Manifest {
  maxBatchSize: number;
  inputs: {
    image: { tensor: string; width: number; height: number; mean: number[]; std: number[] };
    text: { tokenizer: string; maxLength: number; idsTensor: string; attentionMaskTensor: string; padTokenId: number };
  };
  tasks: { name: string; output: string; scores?: string; labels?: string[] }[];
}

export interface Pair {
  truth: Truth;
  pixels: Float32Array;
  width: number;
  height: number;
  ids: bigint[];
  attention: bigint[];
}

export async function readTruth(dir: string): Promise<Truth[]> {
  return (await readFile(path.join(dir, 'truth.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Truth);
}

export class ReferenceModel {
  private constructor(
    readonly manifest: Manifest,
    private readonly tokenizer: Tokenizer,
    readonly session: ort.InferenceSession,
  ) {}

  static async load(bundle: string): Promise<ReferenceModel> {
    const manifest = JSON.parse(await readFile(path.join(bundle, 'model.json'), 'utf8')) as Manifest;
    const tokenizerJson = JSON.parse(await readFile(path.join(bundle, manifest.inputs.text.tokenizer), 'utf8'));
    const session = await ort.InferenceSession.create(path.join(bundle, 'model.onnx'), {
      executionProviders: ['cpu'],
    });
    return new ReferenceModel(manifest, new Tokenizer(tokenizerJson, {}), session);
  }

  task(name: string) {
    const task = this.manifest.tasks.find((t) => t.name === name);
    if (!task) throw new Error(`model.json has no task '${name}'`);
    return task;
  }

  encodeText(text: string): { ids: bigint[]; attention: bigint[] } {
    const { maxLength, padTokenId } = this.manifest.inputs.text;
    const ids = this.tokenizer.encode(text).ids.slice(0, maxLength).map(BigInt);
    const attention = ids.map(() => 1n);
    while (ids.length < maxLength) {
      ids.push(BigInt(padTokenId));
      attention.push(0n);
    }
    return { ids, attention };
  }

  async loadPair(dir: string, truth: Truth): Promise<Pair> {
    const { image } = this.manifest.inputs;
    const file = path.join(dir, truth.image);
    const { data, info } = await sharp(file)
      .removeAlpha()
      .toColourspace('srgb')
      .resize(image.width, image.height, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const plane = image.width * image.height;
    const pixels = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        pixels[c * plane + i] = (data[i * info.channels + c] / 255 - image.mean[c]) / image.std[c];
      }
    }
    const { width, height } = await sharp(file).metadata();
    return { truth, pixels, width: width!, height: height!, ...this.encodeText(truth.text) };
  }

  async run(pairs: Pair[]): Promise<Record<string, ort.Tensor>> {
    const { image, text } = this.manifest.inputs;
    const n = pairs.length;
    const pixels = new Float32Array(n * pairs[0].pixels.length);
    for (const [i, p] of pairs.entries()) pixels.set(p.pixels, i * p.pixels.length);
    const int64 = (rows: bigint[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat()), [n, text.maxLength]);
    return this.session.run({
      [image.tensor]: new ort.Tensor('float32', pixels, [n, 3, image.height, image.width]),
      [text.idsTensor]: int64(pairs.map((p) => p.ids)),
      [text.attentionMaskTensor]: int64(pairs.map((p) => p.attention)),
    });
  }

  /** Largest difference between the outputs at batch sizes 1 and 3 and those of the full batch. */
  async batchConsistency(pairs: Pair[], full: Record<string, ort.Tensor>): Promise<number> {
    let worst = 0;
    for (const size of [1, 3]) {
      const small = await this.run(pairs.slice(0, size));
      for (const name of this.session.outputNames) {
        const a = small[name].data as Float32Array;
        const b = full[name].data as Float32Array;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
    }
    return worst;
  }
}

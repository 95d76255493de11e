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
import { type Box, DetectionAP, decode, SceneIoU } from './detection-metrics.js';

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

export interface Metrics {
  pairs: number;
  shape_accuracy: number;
  colors_micro_f1: number;
  count_accuracy: number;
  match_accuracy: number;
  mask_mean_iou: number;
  mask_nonempty_pairs: number;
  mask_empty_pairs: number;
  mask_empty_predicted_empty: number;
  /** Present when the model has an `objects` task and the truth has its boxes. */
  objects_map50?: number;
  objects_map50_95?: number;
  objects_per_class?: Record<string, { ap50: number; ap50_95: number }>;
  /** Present when the model has a `scene` task and the truth has its class maps. */
  scene_mean_iou?: number;
  scene_iou_per_class?: Record<string, number>;
  batch_1_3_32_max_abs_diff: number;
}

export async function readTruth(dir: string): Promise<Truth[]> {
  return (await readFile(path.join(dir, 'truth.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Truth);
}

/** Bilinear resize of one plane, as PyTorch's interpolate(align_corners=False). */
export function upsampleBilinear(src: Float32Array, sh: number, sw: number, dh: number, dw: number): Float32Array {
  const out = new Float32Array(dh * dw);
  const coord = (d: number, scale: number, size: number) => {
    const s = Math.max(0, (d + 0.5) * scale - 0.5);
    const i0 = Math.min(Math.floor(s), size - 1);
    return [i0, Math.min(i0 + 1, size - 1), s - i0] as const;
  };
  for (let y = 0; y < dh; y++) {
    const [y0, y1, fy] = coord(y, sh / dh, sh);
    for (let x = 0; x < dw; x++) {
      const [x0, x1, fx] = coord(x, sw / dw, sw);
      const top = src[y0 * sw + x0] * (1 - fx) + src[y0 * sw + x1] * fx;
      const bottom = src[y1 * sw + x0] * (1 - fx) + src[y1 * sw + x1] * fx;
      out[y * dw + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
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

  /** The per-task metrics over a folder written by train.py. */
  async evaluate(dir: string): Promise<Metrics> {
    const truths = await readTruth(dir);
    const shapeLabels = this.task('shape').labels!;
    const colorLabels = this.task('colors').labels!;
    const c = { n: 0, shape: 0, count: 0, match: 0, tp: 0, fp: 0, fn: 0, emptyTotal: 0, emptyOk: 0 };
    const ious: number[] = [];
    const objectsTask = this.manifest.tasks.find((t) => t.name === 'objects');
    const sceneTask = this.manifest.tasks.find((t) => t.name === 'scene');
    const detections = objectsTask && truths.some((t) => t.objects) ? new DetectionAP() : undefined;
    const scenes = sceneTask && truths.some((t) => t.scene) ? new SceneIoU(sceneTask.labels!.length) : undefined;
    let consistency = 0;
    const batchSize = this.manifest.maxBatchSize;
    for (let start = 0; start < truths.length; start += batchSize) {
      const pairs = await Promise.all(truths.slice(start, start + batchSize).map((t) => this.loadPair(dir, t)));
      const out = await this.run(pairs);
      if (start === 0) consistency = await this.batchConsistency(pairs, out);
      const shapeLogits = out[this.task('shape').output].data as Float32Array;
      const colorLogits = out[this.task('colors').output].data as Float32Array;
      const countValues = out[this.task('count').output].data as Float32Array;
      const matchLogits = out[this.task('match').output].data as Float32Array;
      const maskTensor = out[this.task('mask').output];
      const [, , mh, mw] = maskTensor.dims;
      const maskLogits = maskTensor.data as Float32Array;
      for (let i = 0; i < pairs.length; i++) {
        const { truth, width, height } = pairs[i];
        c.n++;
        const logits = Array.from(shapeLogits.subarray(i * shapeLabels.length, (i + 1) * shapeLabels.length));
        if (shapeLabels[logits.indexOf(Math.max(...logits))] === truth.shape) c.shape++;
        colorLabels.forEach((label, k) => {
          const predicted = colorLogits[i * colorLabels.length + k] > 0;
          const actual = truth.colors.includes(label);
          if (predicted && actual) c.tp++;
          else if (predicted) c.fp++;
          else if (actual) c.fn++;
        });
        if (Math.round(countValues[i]) === truth.count) c.count++;
        if (Number(matchLogits[i] > 0) === truth.match) c.match++;
        const full = upsampleBilinear(maskLogits.subarray(i * mh * mw, (i + 1) * mh * mw), mh, mw, height, width);
        const target = await sharp(path.join(dir, truth.mask!)).greyscale().raw().toBuffer();
        let inter = 0;
        let union = 0;
        let predicted = 0;
        let actual = 0;
        for (let p = 0; p < full.length; p++) {
          const a = full[p] > 0;
          const b = target[p] > 127;
          predicted += Number(a);
          actual += Number(b);
          inter += Number(a && b);
          union += Number(a || b);
        }
        if (actual > 0) ious.push(inter / union);
        else {
          c.emptyTotal++;
          if (predicted === 0) c.emptyOk++;
        }
        if (detections && objectsTask && truth.objects) {
          const labels = objectsTask.labels!;
          const boxes = out[objectsTask.output];
          const k = boxes.dims[1];
          const dets = decode(
            (boxes.data as Float32Array).subarray(i * k * 4, (i + 1) * k * 4),
            (out[objectsTask.scores!].data as Float32Array).subarray(
              i * k * labels.length,
              (i + 1) * k * labels.length,
            ),
            labels.length,
            width,
            height,
          );
          detections.add(
            dets,
            truth.objects.map((o) => ({
              box: [o.box.x, o.box.y, o.box.x + o.box.width, o.box.y + o.box.height] as Box,
              label: labels.indexOf(o.label),
            })),
          );
        }
        if (scenes && sceneTask && truth.scene) {
          const logits = out[sceneTask.output];
          const [, classes, sh, sw] = logits.dims;
          const planes = Array.from({ length: classes }, (_, c) =>
            upsampleBilinear(
              (logits.data as Float32Array).subarray((i * classes + c) * sh * sw, (i * classes + c + 1) * sh * sw),
              sh,
              sw,
              height,
              width,
            ),
          );
          const predicted = new Uint8Array(width * height);
          for (let p = 0; p < predicted.length; p++) {
            let best = 0;
            for (let c = 1; c < classes; c++) if (planes[c][p] > planes[best][p]) best = c;
            predicted[p] = best;
          }
          const target = await sharp(path.join(dir, truth.scene)).greyscale().raw().toBuffer();
          scenes.add(predicted, target);
        }
      }
    }
    return {
      pairs: c.n,
      shape_accuracy: c.shape / c.n,
      colors_micro_f1: (2 * c.tp) / (2 * c.tp + c.fp + c.fn),
      count_accuracy: c.count / c.n,
      match_accuracy: c.match / c.n,
      mask_mean_iou: ious.reduce((a, b) => a + b, 0) / ious.length,
      mask_nonempty_pairs: ious.length,
      mask_empty_pairs: c.emptyTotal,
      mask_empty_predicted_empty: c.emptyOk / c.emptyTotal,
      ...(detections ? detections.summary(objectsTask!.labels!) : {}),
      ...(scenes ? scenes.summary(sceneTask!.labels!) : {}),
      batch_1_3_32_max_abs_diff: consistency,
    };
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

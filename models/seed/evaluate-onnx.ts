/**
 * The seed bundles in ONNX Runtime (onnxruntime-node, CPU), independent of the project's
 * runtime: parity with PyTorch on each bundle's fixtures/parity, consistency across batch
 * sizes, and the held-out metrics of the model cards (models/seed/.data/test, written by
 * build.py). Writes metrics.json into each bundle.
 *
 *   npx tsx models/seed/evaluate-onnx.ts
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decode as decodePng } from 'fast-png';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

const root = path.resolve(import.meta.dirname, '..', '..');
const testDir = path.join(import.meta.dirname, '.data', 'test');

interface ImageInput {
  tensor: string;
  width: number;
  height: number;
  mean: number[];
  std: number[];
}
interface VectorInput {
  vectors: string;
  tensor: string;
  maxLength: number;
}
interface Manifest {
  maxBatchSize: number;
  inputs: { image: ImageInput; text?: VectorInput };
  tasks: { name: string; output: string }[];
}
interface Truth {
  id: string;
  image: string;
  text?: string;
  words?: string[];
  match?: number;
  task1?: string;
  task2?: string;
  centres?: [number, number][];
}

const readJson = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;
const readTruth = async (dir: string) =>
  (await readFile(path.join(dir, 'truth.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Truth);

/** Little-endian tensors as written by models/reference/train/export.py's write_tensors. */
async function readTensors(prefix: string): Promise<Record<string, { shape: number[]; data: Float32Array }>> {
  const index = (
    await readJson<{ tensors: Record<string, { shape: number[]; offset: number; bytes: number }> }>(`${prefix}.json`)
  ).tensors;
  const raw = await readFile(`${prefix}.bin`);
  const out: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, meta] of Object.entries(index)) {
    const bytes = raw.buffer.slice(raw.byteOffset + meta.offset, raw.byteOffset + meta.offset + meta.bytes);
    out[name] = { shape: meta.shape, data: new Float32Array(bytes) };
  }
  return out;
}

/** RGB, stretched to the input size, (x / 255 - mean) / std, CHW. */
async function imagePixels(file: string, spec: ImageInput): Promise<Float32Array> {
  const { data, info } = await sharp(file)
    .removeAlpha()
    .toColourspace('srgb')
    .resize(spec.width, spec.height, { fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const plane = spec.width * spec.height;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (data[i * info.channels + c] / 255 - spec.mean[c]) / spec.std[c];
  }
  return out;
}

/** The words of a caption: lower-cased, split on runs of whitespace, punctuation and symbols. */
export const wordsOf = (text: string) =>
  text
    .toLowerCase()
    .split(/[\s\p{P}\p{S}]+/u)
    .filter(Boolean);

async function readVectors(file: string): Promise<{ dim: number; rows: Map<string, Float32Array> }> {
  const rows = new Map<string, Float32Array>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    if (!line) continue;
    const [word, ...values] = line.split(' ');
    rows.set(word, Float32Array.from(values, Number));
  }
  return { dim: rows.values().next().value!.length, rows };
}

/** [maxLength, N, dim], sequence-first; unknown words and padding are zero vectors. */
function textTensor(texts: string[], vectors: Awaited<ReturnType<typeof readVectors>>, maxLength: number) {
  const n = texts.length;
  const out = new Float32Array(maxLength * n * vectors.dim);
  texts.forEach((text, b) => {
    wordsOf(text)
      .slice(0, maxLength)
      .forEach((word, k) => {
        const row = vectors.rows.get(word);
        if (row) out.set(row, (k * n + b) * vectors.dim);
      });
  });
  return new ort.Tensor('float32', out, [maxLength, n, vectors.dim]);
}

/** Bilinear resize of one plane, as PyTorch's interpolate(align_corners=False). */
function upsampleBilinear(src: Float32Array, sh: number, sw: number, dh: number, dw: number): Float32Array {
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

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number, digits = 6) => Number(x.toPrecision(digits));

/** A 16-bit truth map as values over [0, 1]. */
async function truthValues(file: string): Promise<Float32Array> {
  const png = decodePng(await readFile(file));
  if (png.depth !== 16 || png.channels !== 1) throw new RangeError(`${file}: not a 16-bit grey PNG`);
  return Float32Array.from(png.data as Uint16Array, (v) => v / 65535);
}

class Bundle {
  private constructor(
    readonly dir: string,
    readonly manifest: Manifest,
    readonly session: ort.InferenceSession,
    readonly vectors?: Awaited<ReturnType<typeof readVectors>>,
  ) {}

  static async load(dir: string): Promise<Bundle> {
    const manifest = await readJson<Manifest>(path.join(dir, 'model.json'));
    const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { executionProviders: ['cpu'] });
    const text = manifest.inputs.text;
    return new Bundle(dir, manifest, session, text ? await readVectors(path.join(dir, text.vectors)) : undefined);
  }

  /** The feeds of pairs (image file, caption), as the runtime builds them. */
  async feeds(dir: string, truths: Truth[]): Promise<Record<string, ort.Tensor>> {
    const { image, text } = this.manifest.inputs;
    const planes = await Promise.all(truths.map((t) => imagePixels(path.join(dir, t.image), image)));
    const pixels = new Float32Array(planes.length * planes[0].length);
    planes.forEach((p, i) => {
      pixels.set(p, i * p.length);
    });
    const feeds: Record<string, ort.Tensor> = {
      [image.tensor]: new ort.Tensor('float32', pixels, [truths.length, 3, image.height, image.width]),
    };
    if (text && this.vectors) {
      const captions = await Promise.all(
        truths.map((t) => readFile(path.join(dir, t.image.replace(/\.png$/, '.txt')), 'utf8')),
      );
      feeds[text.tensor] = textTensor(captions, this.vectors, text.maxLength);
    }
    return feeds;
  }

  /** The feeds of pairs [from, to) of a batch's feeds (batch axis 1 for seq-first text). */
  sliceFeeds(feeds: Record<string, ort.Tensor>, from: number, to: number): Record<string, ort.Tensor> {
    const out: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      const data = t.data as Float32Array;
      const isText = name === this.manifest.inputs.text?.tensor;
      if (!isText) {
        const per = data.length / t.dims[0];
        out[name] = new ort.Tensor('float32', data.slice(from * per, to * per), [to - from, ...t.dims.slice(1)]);
      } else {
        const [len, n, dim] = t.dims;
        const part = new Float32Array(len * (to - from) * dim);
        for (let k = 0; k < len; k++)
          part.set(data.subarray((k * n + from) * dim, (k * n + to) * dim), k * (to - from) * dim);
        out[name] = new ort.Tensor('float32', part, [len, to - from, dim]);
      }
    }
    return out;
  }

  /** PyTorch parity on fixtures/parity, and batch 1 and 3 against batch 8. */
  async parity() {
    const dir = path.join(this.dir, 'fixtures', 'parity');
    const truths = await readTruth(dir);
    const expected = await readTensors(path.join(dir, 'outputs'));
    const feeds = await this.feeds(dir, truths);
    const out = await this.session.run(feeds);
    const result: Record<string, number> = {};
    for (const name of this.session.outputNames) {
      result[`${name}_max_abs_diff`] = maxAbsDiff(out[name].data as Float32Array, expected[name].data);
    }
    const text = this.manifest.inputs.text;
    if (text) result.text_tensor_max_abs_diff = maxAbsDiff(feeds[text.tensor].data as Float32Array, expected.text.data);
    let consistency = 0;
    for (const size of [1, 3]) {
      for (let from = 0; from + size <= truths.length; from += size) {
        const small = await this.session.run(this.sliceFeeds(feeds, from, from + size));
        for (const name of this.session.outputNames) {
          const full = out[name].data as Float32Array;
          const per = full.length / truths.length;
          consistency = Math.max(
            consistency,
            maxAbsDiff(small[name].data as Float32Array, full.subarray(from * per, (from + size) * per)),
          );
        }
      }
    }
    return { pairs: truths.length, ...result, batch_1_3_vs_8_max_abs_diff: consistency };
  }

  async *batches(dir: string) {
    const truths = await readTruth(dir);
    for (let start = 0; start < truths.length; start += this.manifest.maxBatchSize) {
      const part = truths.slice(start, start + this.manifest.maxBatchSize);
      yield { truths: part, out: await this.session.run(await this.feeds(dir, part)) };
    }
  }
}

async function evaluateMultitask(bundle: Bundle) {
  const ious: number[] = [];
  const distances: number[] = [];
  const centreBaseline: number[] = [];
  const mae: Record<string, number[]> = { task1: [], task2: [] };
  for await (const { truths, out } of bundle.batches(testDir)) {
    for (const [i, truth] of truths.entries()) {
      const maps: Record<string, Float32Array> = {};
      for (const name of ['task1', 'task2']) {
        const [, , h, w] = out[name].dims;
        const plane = (out[name].data as Float32Array).subarray(i * h * w, (i + 1) * h * w);
        // As the runtime's map kind: bilinear to the image's size, then the activation.
        maps[name] = upsampleBilinear(plane, h, w, 64, 64).map(sigmoid);
        const target = await truthValues(path.join(testDir, truth[name as 'task1' | 'task2']!));
        mae[name].push(mean(Array.from(maps[name], (v, p) => Math.abs(v - target[p]))));
      }
      const mask = await truthValues(path.join(testDir, truth.task1!));
      let inter = 0;
      let union = 0;
      maps.task1.forEach((v, p) => {
        const a = v > 0.5;
        const b = mask[p] > 0.5;
        inter += Number(a && b);
        union += Number(a || b);
      });
      ious.push(union ? inter / union : 1);
      let peak = 0;
      maps.task2.forEach((v, p) => {
        if (v > maps.task2[peak]) peak = p;
      });
      const nearest = (x: number, y: number) =>
        Math.min(...truth.centres!.map(([cx, cy]) => Math.hypot(x - cx, y - cy)));
      distances.push(nearest((peak % 64) + 0.5, Math.floor(peak / 64) + 0.5));
      centreBaseline.push(nearest(32, 32));
    }
  }
  return {
    pairs: ious.length,
    task1_mean_iou: round(mean(ious)),
    task2_peak_to_nearest_centre_px: round(mean(distances)),
    task2_peak_within_2px: round(distances.filter((d) => d <= 2).length / distances.length),
    task2_baseline_image_centre_to_nearest_centre_px: round(mean(centreBaseline)),
    task1_mean_abs_error: round(mean(mae.task1)),
    task2_mean_abs_error: round(mean(mae.task2)),
  };
}

async function evaluateMultimodal(bundle: Bundle) {
  let right = 0;
  let n = 0;
  let trues = 0;
  let predictedTrue = 0;
  for await (const { truths, out } of bundle.batches(testDir)) {
    const logits = out.logit.data as Float32Array;
    for (const [i, truth] of truths.entries()) {
      n++;
      trues += truth.match!;
      predictedTrue += Number(logits[i] > 0);
      right += Number(Number(logits[i] > 0) === truth.match);
    }
  }
  return {
    pairs: n,
    match_accuracy: round(right / n),
    true_share: round(trues / n),
    predicted_true_share: round(predictedTrue / n),
  };
}

const report: Record<string, unknown> = {};
for (const [name, evaluate] of [
  ['seed-multitask', evaluateMultitask],
  ['seed-multimodal', evaluateMultimodal],
] as const) {
  const bundle = await Bundle.load(path.join(root, 'models', name));
  const started = performance.now();
  const metrics = {
    engine: `onnxruntime-node ${ort.env.versions.common} (cpu)`,
    data: 'models/seed/.data/test',
    ...(await evaluate(bundle)),
    parity: await bundle.parity(),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  await writeFile(path.join(bundle.dir, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  report[name] = metrics;
}
console.log(JSON.stringify(report, null, 2));

/**
 * Runs the tiny test models of test/fixtures/models in onnxruntime-node against the outputs
 * PyTorch recorded (written by models/seed/build_test_models.py), rebuilding their inputs from
 * what outputs.json names: the pairs' PNGs, or the texts through tokenizer.json or vectors.txt.
 *
 *   npx tsx models/seed/check-test-models.ts
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';

const root = path.resolve(import.meta.dirname, '..', '..');
const models = path.join(root, 'test', 'fixtures', 'models');
const TOLERANCE = 1e-4;

interface Stored {
  shape: number[];
  data: Float32Array | BigInt64Array;
}
interface Index {
  tensors: Record<string, { dtype: string; shape: number[]; offset: number; bytes: number }>;
  inputs: { tensors?: string[]; texts?: string[]; pairs?: string; ids?: string[] };
}

async function readStored(dir: string): Promise<{ index: Index; tensors: Record<string, Stored> }> {
  const index = JSON.parse(await readFile(path.join(dir, 'outputs.json'), 'utf8')) as Index;
  const raw = await readFile(path.join(dir, 'outputs.bin'));
  const tensors: Record<string, Stored> = {};
  for (const [name, meta] of Object.entries(index.tensors)) {
    const bytes = raw.buffer.slice(raw.byteOffset + meta.offset, raw.byteOffset + meta.offset + meta.bytes);
    tensors[name] = {
      shape: meta.shape,
      data: meta.dtype === 'float32' ? new Float32Array(bytes) : new BigInt64Array(bytes),
    };
  }
  return { index, tensors };
}

const maxAbsDiff = (a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>) => {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(Number(a[i]) - Number(b[i])));
  return worst;
};

const wordsOf = (text: string) =>
  text
    .toLowerCase()
    .split(/[\s\p{P}\p{S}]+/u)
    .filter(Boolean);

const results: Record<string, Record<string, number>> = {};
let failed = false;
const record = (model: string, what: string, diff: number) => {
  results[model] = { ...results[model], [what]: diff };
  if (!(diff <= TOLERANCE)) failed = true;
};

async function session(dir: string) {
  return ort.InferenceSession.create(path.join(dir, 'model.onnx'), { executionProviders: ['cpu'] });
}

// seed-multitask-batch1: the parity pairs, one at a time.
{
  const name = 'seed-multitask-batch1';
  const dir = path.join(models, name);
  const { index, tensors } = await readStored(dir);
  const s = await session(dir);
  const got: Record<string, number[]> = { task1: [], task2: [] };
  for (const id of index.inputs.ids!) {
    const { data } = await sharp(path.join(root, index.inputs.pairs!, `${id}.png`))
      .removeAlpha()
      .resize(64, 64, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const pixels = new Float32Array(3 * 64 * 64);
    for (let i = 0; i < 64 * 64; i++)
      for (let c = 0; c < 3; c++) pixels[c * 4096 + i] = (data[i * 3 + c] / 255 - 0.5) / 0.5;
    const out = await s.run({ image: new ort.Tensor('float32', pixels, [1, 3, 64, 64]) });
    for (const t of ['task1', 'task2']) got[t].push(...(out[t].data as Float32Array));
  }
  for (const t of ['task1', 'task2']) record(name, t, maxAbsDiff(got[t], tensors[t].data as Float32Array));
  let refused = false;
  try {
    await s.run({ image: new ort.Tensor('float32', new Float32Array(2 * 3 * 64 * 64), [2, 3, 64, 64]) });
  } catch {
    refused = true;
  }
  results[name].batch_of_2_refused = Number(refused);
  if (!refused) failed = true;
}

// vectors-batch-first-lengths: texts → words → vectors (<unk> for unknown words) and lengths.
{
  const name = 'vectors-batch-first-lengths';
  const dir = path.join(models, name);
  const { index, tensors } = await readStored(dir);
  const rows = new Map<string, number[]>();
  for (const line of (await readFile(path.join(dir, 'vectors.txt'), 'utf8')).split('\n').filter(Boolean)) {
    const [word, ...values] = line.split(' ');
    rows.set(word, values.map(Number));
  }
  const [L, D] = [6, 4];
  const texts = index.inputs.texts!;
  const text = new Float32Array(texts.length * L * D);
  const lengths = new BigInt64Array(texts.length);
  texts.forEach((t, n) => {
    const words = wordsOf(t).slice(0, L);
    words.forEach((w, k) => {
      text.set(rows.get(w) ?? rows.get('<unk>')!, (n * L + k) * D);
    });
    lengths[n] = BigInt(words.length);
  });
  record(name, 'text_tensor', maxAbsDiff(text, tensors.text.data as Float32Array));
  record(name, 'lengths', maxAbsDiff(lengths, tensors.lengths.data as BigInt64Array));
  const s = await session(dir);
  const out = await s.run({
    text: new ort.Tensor('float32', text, [texts.length, L, D]),
    lengths: new ort.Tensor('int64', lengths, [texts.length]),
  });
  record(name, 'score', maxAbsDiff(out.score.data as Float32Array, tensors.score.data as Float32Array));
  // The lengths tensor matters: all 6 positions counted changes the scores of the short texts.
  const full = await s.run({
    text: new ort.Tensor('float32', text, [texts.length, L, D]),
    lengths: new ort.Tensor('int64', new BigInt64Array(texts.length).fill(6n), [texts.length]),
  });
  results[name].score_change_if_lengths_all_6 = maxAbsDiff(
    full.score.data as Float32Array,
    out.score.data as Float32Array,
  );
}

// ids-seq-first: texts → tokenizer.json → ids, sequence-first [6, N].
{
  const name = 'ids-seq-first';
  const dir = path.join(models, name);
  const { index, tensors } = await readStored(dir);
  const tokenizer = new Tokenizer(JSON.parse(await readFile(path.join(dir, 'tokenizer.json'), 'utf8')), {});
  const texts = index.inputs.texts!;
  const L = 6;
  const ids = new BigInt64Array(L * texts.length);
  texts.forEach((t, n) => {
    tokenizer
      .encode(t)
      .ids.slice(0, L)
      .forEach((id: number, k: number) => {
        ids[k * texts.length + n] = BigInt(id);
      });
  });
  record(name, 'input_ids', maxAbsDiff(ids, tensors.input_ids.data as BigInt64Array));
  const s = await session(dir);
  const out = await s.run({ input_ids: new ort.Tensor('int64', ids, [L, texts.length]) });
  record(name, 'embedding', maxAbsDiff(out.embedding.data as Float32Array, tensors.embedding.data as Float32Array));
}

console.log(JSON.stringify(results, null, 2));
if (failed) {
  console.error(`a test model differs from its recorded outputs by more than ${TOLERANCE}`);
  process.exit(1);
}

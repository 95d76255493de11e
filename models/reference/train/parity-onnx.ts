/**
 * Largest absolute difference, per output, between model.onnx in ONNX Runtime and PyTorch's raw
 * outputs on the parity fixture (fixtures/parity/outputs.{json,bin}, written by train.py).
 *
 *   npx tsx models/reference/train/parity-onnx.ts [--bundle DIR]
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ReferenceModel, readTruth } from './onnx-eval.js';

const { values } = parseArgs({
  options: { bundle: { type: 'string', default: path.resolve(import.meta.dirname, '..') } },
});
const bundle = values.bundle!;
const dir = path.join(bundle, 'fixtures', 'parity');
const model = await ReferenceModel.load(bundle);
const truths = await readTruth(dir);
const pairs = await Promise.all(truths.map((t) => model.loadPair(dir, t)));
const out = await model.run(pairs);
const index = JSON.parse(await readFile(path.join(dir, 'outputs.json'), 'utf8')).tensors as Record<
  string,
  { dtype: string; shape: number[]; offset: number; bytes: number }
>;
const raw = await readFile(path.join(dir, 'outputs.bin'));
const report: Record<string, { shape: number[]; max_abs_diff: number }> = {};
for (const name of model.session.outputNames) {
  const meta = index[name];
  if (!meta) throw new Error(`outputs.json has no tensor '${name}'`);
  const expected = new Float32Array(
    raw.buffer.slice(raw.byteOffset + meta.offset, raw.byteOffset + meta.offset + meta.bytes),
  );
  const actual = out[name].data as Float32Array;
  if (actual.length !== expected.length || out[name].dims.join() !== meta.shape.join()) {
    throw new Error(`${name}: shape ${out[name].dims} in ONNX Runtime, ${meta.shape} in PyTorch`);
  }
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  report[name] = { shape: meta.shape, max_abs_diff: worst };
}
console.log(JSON.stringify(report, null, 2));

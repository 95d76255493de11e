/**
 * Evaluates the exported reference model in ONNX Runtime (not PyTorch): the acceptance
 * metrics of the model card come from here.
 *
 *   npx tsx models/reference/train/evaluate-onnx.ts [--bundle DIR] [--data DIR] [--out FILE]
 *
 * --data holds pairs, masks/ and truth.jsonl as written by train.py (default: the
 * bundle's .data/test, the 2,000-pair test split); --out receives the metrics as JSON.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ReferenceModel } from './onnx-eval.js';

const { values } = parseArgs({
  options: {
    bundle: { type: 'string', default: path.resolve(import.meta.dirname, '..') },
    data: { type: 'string' },
    out: { type: 'string' },
  },
});
const bundle = values.bundle!;
const data = values.data ?? path.join(bundle, '.data', 'test');
const out = values.out ?? path.join(bundle, 'metrics.json');

const model = await ReferenceModel.load(bundle);
const started = performance.now();
const metrics = await model.evaluate(data);
const report = {
  engine: 'onnxruntime-node (cpu)',
  data: path.relative(bundle, data),
  ...metrics,
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));

/**
 * Evaluates the exported reference model in ONNX Runtime (not PyTorch): the acceptance
 * metrics of the model card come from here. Each task is scored by fusebatch itself
 * (runtime-eval.ts: `infer --truth`, each kind's own metric); the batch-size check runs the raw
 * graph (onnx-eval.ts).
 *
 *   npx tsx models/reference/train/evaluate-onnx.ts [--bundle DIR] [--data DIR] [--out FILE]
 *
 * --data holds pairs/, masks/, scenes/ and truth.jsonl as written by train.py (default: the
 * bundle's .data/test, the 2,000-pair test split); --out receives the metrics as JSON.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ReferenceModel, readTruth } from './onnx-eval.js';
import { evaluateWithRuntime } from './runtime-eval.js';

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

const started = performance.now();
const metrics = await evaluateWithRuntime(bundle, data);
// Batch sizes 1, 3 and 32 on the first 32 pairs: the same outputs whatever the batching.
const model = await ReferenceModel.load(bundle);
const pairs = await Promise.all((await readTruth(data)).slice(0, 32).map((t) => model.loadPair(data, t)));
const consistency = await model.batchConsistency(pairs, await model.run(pairs));
const report = {
  engine: 'onnxruntime-node (cpu), scored by fusebatch infer --truth',
  data: path.relative(bundle, data),
  ...metrics,
  batch_1_3_32_max_abs_diff: consistency,
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
await mkdir(path.dirname(out), { recursive: true });
await writeFile(out, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));

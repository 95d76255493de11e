/**
 * The committed reference bundle, run in ONNX Runtime: it reproduces PyTorch's raw outputs,
 * its tokenizer reproduces the ids training used, and it is as accurate as its card says.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../../lambdas/adapters/model-bundle.js';
import { kindOf } from '../../lambdas/core/kinds/index.js';
import { type Pair, ReferenceModel, readTruth } from '../../models/reference/train/onnx-eval.js';
import { evaluateWithRuntime } from '../../models/reference/train/runtime-eval.js';
import { maxAbsDiff, readTensors } from '../helpers/tensors.js';

const bundle = path.resolve(import.meta.dirname, '../../models/reference');
const parityDir = path.join(bundle, 'fixtures', 'parity');

describe('Model bundle: models/reference', () => {
  let model: ReferenceModel;
  let pairs: Pair[];
  beforeAll(async () => {
    model = await ReferenceModel.load(bundle);
    const truths = await readTruth(parityDir);
    pairs = await Promise.all(truths.map((t) => model.loadPair(parityDir, t)));
  });

  it('keeps model.onnx at or under 8 MB', async () => {
    expect((await stat(path.join(bundle, 'model.onnx'))).size).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('names in model.json the inputs and outputs the graph has', async () => {
    const { image, text } = model.manifest.inputs;
    expect([...model.session.inputNames].sort()).toEqual(
      [image.tensor, text.idsTensor, text.attentionMaskTensor].sort(),
    );
    // Every output a task reads (a detection's scores as well as its boxes).
    const manifest = await readManifest(bundle);
    const read = manifest.tasks.flatMap((t) =>
      kindOf(t)
        .outputs(t)
        .map((o) => o.tensor),
    );
    expect([...model.session.outputNames].sort()).toEqual(read.sort());
  });

  it('tokenizes the parity captions to the ids PyTorch was given', async () => {
    const expected = await readTensors(path.join(parityDir, 'outputs'));
    const ids = expected.input_ids.data as BigInt64Array;
    const mask = expected.attention_mask.data as BigInt64Array;
    const length = model.manifest.inputs.text.maxLength;
    pairs.forEach((p, i) => {
      expect(p.ids).toEqual(Array.from(ids.subarray(i * length, (i + 1) * length)));
      expect(p.attention).toEqual(Array.from(mask.subarray(i * length, (i + 1) * length)));
    });
  });

  it('reproduces PyTorch raw outputs on the parity set to 1e-4', async () => {
    const expected = await readTensors(path.join(parityDir, 'outputs'));
    const out = await model.run(pairs);
    for (const name of model.session.outputNames) {
      expect(out[name].dims).toEqual(expected[name].shape);
      const worst = maxAbsDiff(out[name].data as Float32Array, expected[name].data as Float32Array);
      expect(worst, name).toBeLessThanOrEqual(1e-4);
    }
  });

  it('gives the same outputs at batch sizes 1, 3 and 32', async () => {
    const full = await model.run(pairs);
    expect(pairs).toHaveLength(32);
    expect(await model.batchConsistency(pairs, full)).toBeLessThanOrEqual(1e-5);
  });

  it('has on its 300-pair evaluation set (images of 96 to 512 px) the metrics its card states', async () => {
    // The card's numbers (fixtures/eval/metrics.json, written by the build) must be what the
    // committed model does: a stale card or a swapped model fails here.
    const card = JSON.parse(await readFile(path.join(bundle, 'fixtures', 'eval', 'metrics.json'), 'utf8'));
    const metrics = await evaluateWithRuntime(bundle, path.join(bundle, 'fixtures', 'eval'));
    expect(metrics.pairs).toBe(300);
    for (const key of [
      'shape_accuracy',
      'colors_micro_f1',
      'count_accuracy',
      'match_accuracy',
      'mask_mean_iou',
      'mask_empty_predicted_empty',
      'objects_map50',
      'objects_map50_95',
      'scene_mean_iou',
    ] as const) {
      expect(metrics[key] as number, key).toBeCloseTo(card[key], 6);
    }
  });
});

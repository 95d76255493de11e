/**
 * The runtime end to end on the reference model, on both CPU engines: PyTorch parity of the
 * raw outputs through the real pipeline (sharp decode, tokenizer, batching), accuracy on the
 * evaluation set, and identical records at batch sizes 1 and 32.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFolderPairs } from '../../cli/adapters/local-files.js';
import { readTruthImage, SharpImageDecoder } from '../../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../../lambdas/adapters/model-bundle.js';
import { Evaluation } from '../../lambdas/core/evaluation.js';
import { type RuntimeModel, runPipeline } from '../../lambdas/core/pipeline.js';
import type { OutputRecord } from '../../lambdas/core/records.js';
import type { EngineName } from '../../lambdas/core/tensor.js';
import {
  evalDir,
  evalPairs,
  MemoryMaskStore,
  parityDir,
  parityPairs,
  readTruthLines,
  recordingEngine,
  referenceBundle,
} from '../helpers/runtime.js';
import { maxAbsDiff, readTensors } from '../helpers/tensors.js';

async function collect(records: AsyncIterable<OutputRecord>): Promise<OutputRecord[]> {
  const out: OutputRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

describe.each<EngineName>(['cpu', 'wasm'])('Runtime: reference model on the %s engine', (engineName) => {
  let model: RuntimeModel;
  beforeAll(async () => {
    model = await loadModelBundle(referenceBundle, { engine: engineName, threads: 1 });
  });
  afterAll(async () => {
    await model?.engine.close();
  });

  it('reproduces PyTorch raw outputs on the parity set to 1e-4', async () => {
    // Prepare
    const expected = await readTensors(path.join(parityDir, 'outputs'));
    const { engine, runs } = recordingEngine(model.engine);
    // Act
    const records = await collect(
      runPipeline(await listFolderPairs(parityPairs), {
        model: { ...model, engine },
        images: new SharpImageDecoder(),
        batchSize: 32,
      }),
    );
    // Assess
    expect(records.every((r) => r.status === 'ok')).toBe(true);
    expect(runs).toHaveLength(1);
    for (const name of model.engine.outputs.map((o) => o.name)) {
      expect(runs[0][name].dims).toEqual(expected[name].shape);
      expect(
        maxAbsDiff(runs[0][name].data as Float32Array, expected[name].data as Float32Array),
        name,
      ).toBeLessThanOrEqual(1e-4);
    }
  });

  it('gives the same records at batch sizes 1 and 32', async () => {
    // Prepare
    const pairs = await listFolderPairs(parityPairs);
    const run = (batchSize: number) =>
      collect(runPipeline(pairs, { model, images: new SharpImageDecoder(), masks: new MemoryMaskStore(), batchSize }));
    // Act
    const [one, many] = [await run(1), await run(32)];
    // Assess: scores are rounded to 6 decimals, so the records compare as bytes.
    expect(one.map((r) => JSON.stringify(r))).toEqual(many.map((r) => JSON.stringify(r)));
  });

  it("reaches the model card's evaluation-set accuracy within 1 point per task", async () => {
    // Prepare
    const card = JSON.parse(await readFile(path.join(evalDir, 'metrics.json'), 'utf8'));
    const truths = new Map((await readTruthLines(evalDir)).map((t) => [t.id as string, t]));
    const masks = new MemoryMaskStore();
    const evaluation = new Evaluation(
      model.manifest,
      (ref, form) => readTruthImage(path.join(evalDir, ref), form),
      async (_id, _task, key) => masks.masks.get(key!)!,
    );
    // Act
    const records = await collect(
      runPipeline(await listFolderPairs(evalPairs), {
        model,
        images: new SharpImageDecoder(),
        masks,
      }),
    );
    for (const r of records) await evaluation.add(r, truths.get(r.id)!);
    const metrics = Object.fromEntries(evaluation.summary().map((m) => [m.task, m]));
    // Assess
    expect(records).toHaveLength(300);
    expect(records.filter((r) => r.status === 'error')).toEqual([]);
    expect(Math.abs(metrics.shape.value - card.shape_accuracy)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.colors.value - card.colors_micro_f1)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.count.value - card.count_accuracy)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.match.value - card.match_accuracy)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.mask.value - card.mask_mean_iou)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.mask.more!.empty_predicted_empty - card.mask_empty_predicted_empty)).toBeLessThanOrEqual(
      0.01,
    );
    // The card's figures come from infer --truth on the cpu engine; each engine reaches them.
    expect(Math.abs(metrics.objects.value - card.objects_map50)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.objects.more!.map_50_95 - card.objects_map50_95)).toBeLessThanOrEqual(0.01);
    expect(Math.abs(metrics.scene.value - card.scene_mean_iou)).toBeLessThanOrEqual(0.01);
  });
});

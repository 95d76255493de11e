/**
 * The seed article's two models as bundles, and the small test models of the input forms real
 * exports have (a fixed batch of 1, batch-first word vectors with lengths and an <unk> word,
 * sequence-first token ids), run through fusebatch's own runtime (bundle loading, image decoding,
 * words to vectors, tokenising, layouts, batching) on both engines: raw outputs within 1e-4 of
 * PyTorch's, and the tensors fed to the model exactly the ones PyTorch was given.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listFolderPairs } from '../../cli/adapters/local-files.js';
import { infer } from '../../cli/infer.js';
import { describeModel } from '../../cli/validate-model.js';
import { decodeDensePng, SharpImageDecoder } from '../../lambdas/adapters/image-codec.js';
import { loadModelBundle, readManifest } from '../../lambdas/adapters/model-bundle.js';
import { draftManifest } from '../../lambdas/core/init-model.js';
import { pairNeeds } from '../../lambdas/core/manifest.js';
import { type PairSource, type RuntimeModel, runPipeline } from '../../lambdas/core/pipeline.js';
import type { EngineName, TensorData } from '../../lambdas/core/tensor.js';
import { memoryPair } from '../helpers/runtime.js';
import { maxAbsDiff, readTensors, type StoredTensor } from '../helpers/tensors.js';

const root = path.resolve(import.meta.dirname, '../..');
const seedMultitask = path.join(root, 'models/seed-multitask');
const seedMultimodal = path.join(root, 'models/seed-multimodal');
const testModels = path.join(root, 'test/fixtures/models');
const ENGINES: EngineName[] = ['wasm', 'cpu'];

/** Runs pairs through the runtime, keeping every batch's feeds and raw outputs, stacked in pair order. */
async function runRecorded(model: RuntimeModel, pairs: PairSource[]) {
  const feeds: Record<string, TensorData>[] = [];
  const outputs: Record<string, TensorData>[] = [];
  const recording: RuntimeModel = {
    ...model,
    engine: {
      ...model.engine,
      run: async (f) => {
        feeds.push(f);
        const out = await model.engine.run(f);
        outputs.push(out);
        return out;
      },
    },
  };
  const records = [];
  for await (const r of runPipeline(pairs, { model: recording, images: new SharpImageDecoder() })) records.push(r);
  const stack = (batches: Record<string, TensorData>[], name: string, axis = 0) => {
    const parts = batches.map((b) => b[name]);
    if (axis === 0) return parts.flatMap((p) => Array.from(p.data as ArrayLike<number | bigint>));
    // A sequence-first tensor [L, n, D] batch by batch: regroup position by position.
    const [L, , D = 1] = parts[0].dims;
    const out: (number | bigint)[] = [];
    for (let t = 0; t < L; t++) {
      for (const p of parts) {
        const n = p.dims[1];
        out.push(
          ...Array.from(p.data as ArrayLike<number | bigint> as ArrayLike<number>).slice(t * n * D, (t + 1) * n * D),
        );
      }
    }
    return out;
  };
  return { records, feeds, outputs, calls: feeds.length, stack };
}

const expectClose = (got: (number | bigint)[], want: StoredTensor, name: string) =>
  expect(maxAbsDiff(got.map(Number), Array.from(want.data as Float32Array)), name).toBeLessThanOrEqual(1e-4);

describe.each(ENGINES)('Seed bundles on %s', (engine) => {
  it('runs models/seed-multitask (image only) as PyTorch does, to 1e-4', async () => {
    // Prepare
    const model = await loadModelBundle(seedMultitask, { engine, threads: 1 });
    const expected = await readTensors(path.join(seedMultitask, 'fixtures/parity/outputs'));
    const pairs = await listFolderPairs(path.join(seedMultitask, 'fixtures/parity/pairs'), pairNeeds(model.manifest));
    try {
      // Act
      const run = await runRecorded(model, pairs);
      // Assess
      expect(run.records.map((r) => r.status)).toEqual(Array(8).fill('ok'));
      expect(run.records[0].inputs).toEqual({ image: 'parity-00000.png' });
      for (const name of ['task1', 'task2']) expectClose(run.stack(run.outputs, name), expected[name], name);
    } finally {
      await model.engine.close();
    }
  });

  it('runs models/seed-multimodal (image and word vectors, sequence-first) as PyTorch does, to 1e-4', async () => {
    // Prepare
    const model = await loadModelBundle(seedMultimodal, { engine, threads: 1 });
    const expected = await readTensors(path.join(seedMultimodal, 'fixtures/parity/outputs'));
    const pairs = await listFolderPairs(path.join(seedMultimodal, 'fixtures/parity/pairs'));
    try {
      // Act
      const run = await runRecorded(model, pairs);
      // Assess: the words became exactly PyTorch's [8, N, 100] text tensor, and the logits match.
      expect(run.feeds[0].text.dims).toEqual([8, 8, 100]);
      expect(run.stack(run.feeds, 'text', 1)).toEqual(Array.from(expected.text.data as Float32Array));
      expectClose(run.stack(run.outputs, 'logit'), expected.logit, 'logit');
      expect(run.records[0]).toMatchObject({ status: 'ok', tasks: { match: { score: expect.any(Number) } } });
    } finally {
      await model.engine.close();
    }
  });

  it('runs a model whose batch is fixed at 1 one pair per call', async () => {
    const dir = path.join(testModels, 'seed-multitask-batch1');
    const model = await loadModelBundle(dir, { engine, threads: 1 });
    const expected = await readTensors(path.join(dir, 'outputs'));
    const pairs = await listFolderPairs(path.join(seedMultitask, 'fixtures/parity/pairs'), pairNeeds(model.manifest));
    try {
      const run = await runRecorded(model, pairs);
      expect([model.batchLimit, run.calls]).toEqual([1, 8]);
      for (const name of ['task1', 'task2']) expectClose(run.stack(run.outputs, name), expected[name], name);
    } finally {
      await model.engine.close();
    }
  });

  it.each([
    // Batch-first word vectors [N, 6, 4], an <unk> word for unknown ones, and int64 lengths.
    { model: 'vectors-batch-first-lengths', feeds: ['text', 'lengths'], output: 'score' },
    // Sequence-first token ids [6, N].
    { model: 'ids-seq-first', feeds: ['input_ids'], output: 'embedding' },
  ])('feeds the text-only $model exactly the tensors PyTorch was given', async ({ model: name, feeds, output }) => {
    // Prepare
    const dir = path.join(testModels, name);
    const model = await loadModelBundle(dir, { engine, threads: 1 });
    const texts: string[] = JSON.parse(await readFile(path.join(dir, 'outputs.json'), 'utf8')).inputs.texts;
    const expected = await readTensors(path.join(dir, 'outputs'));
    try {
      // Act
      const run = await runRecorded(
        model,
        texts.map((text, i) => memoryPair(`t${i}`, null, text)),
      );
      // Assess: one batch; sequence-first tensors are compared as laid out, [L, N].
      expect(run.calls).toBe(1);
      expect(run.records.map((r) => r.inputs)).toEqual(texts.map((text) => ({ text })));
      for (const feed of feeds) {
        expect(run.feeds[0][feed].dims, feed).toEqual(expected[feed].shape);
        expect(Array.from(run.feeds[0][feed].data as ArrayLike<number | bigint>), feed).toEqual(
          Array.from(expected[feed].data as ArrayLike<number | bigint>),
        );
      }
      expectClose(run.stack(run.outputs, output), expected[output], output);
    } finally {
      await model.engine.close();
    }
  });
});

describe('Seed bundles: fusebatch infer', () => {
  it('runs the image-only bundle on a folder of images, writes its 16-bit maps and scores them against truth maps', async () => {
    // Prepare
    const out = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-seed-infer-'));
    const parity = path.join(seedMultitask, 'fixtures/parity');
    try {
      // Act
      const summary = await infer({
        model: seedMultitask,
        input: path.join(parity, 'pairs'),
        out: path.join(out, 'maps.jsonl'),
        masks: path.join(out, 'maps'),
        truth: path.join(parity, 'truth.jsonl'),
        engine: 'wasm',
        threads: 1,
        progress: false,
      });
      // Assess
      expect(summary).toMatchObject({ pairs: 8, errors: 0 });
      expect(summary.metrics?.map((m) => [m.task, m.metric, m.fraction])).toEqual([
        ['task1', 'mae', false],
        ['task2', 'mae', false],
      ]);
      for (const m of summary.metrics ?? []) expect(m.value).toBeLessThan(0.1);
      const record = JSON.parse((await readFile(path.join(out, 'maps.jsonl'), 'utf8')).split('\n')[0]);
      const png = decodeDensePng(await readFile(record.tasks.task1.map));
      expect([png.kind, png.width, png.height]).toEqual(['values', 64, 64]);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('Seed bundles: validate-model and init-model', () => {
  const scratch: string[] = [];
  afterAll(async () => {
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  it('describes each bundle’s inputs, and says when the graph fixes the batch at 1', async () => {
    expect(await describeModel(seedMultitask, 'wasm')).toContain('(no text: pairs are images alone)');
    expect(await describeModel(seedMultimodal, 'wasm')).toContain(
      "text   'text', word vectors vectors.txt (27 words, 100-d), seq-first, max length 8",
    );
    expect(await describeModel(path.join(testModels, 'seed-multitask-batch1'), 'cpu')).toContain(
      'batch fixed at 1 by the graph: one pair per call',
    );
  });

  it.each([
    ['models/reference', 'tokenizer.json'],
    ['models/seed-multitask', null],
    ['models/seed-multimodal', 'vectors.txt'],
  ])('drafts %s from its graph into a bundle that validates once its TODOs are filled', async (bundle, textFile) => {
    // Prepare: the bundle's files in a scratch folder, its model.json replaced by init-model's draft.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-init-'));
    scratch.push(dir);
    await cp(path.join(root, bundle), dir, { recursive: true });
    const shipped = await readManifest(dir);
    const loaded = await loadModelBundle(dir, { engine: 'cpu', threads: 1 });
    await loaded.engine.close();
    const { manifest: draft } = draftManifest(loaded.engine.inputs, loaded.engine.outputs, {
      name: shipped.name,
      model: 'model.onnx',
    });
    // Act: what the user does: fill in each TODO from what they know, drop the draft notes.
    const { draft: _notes, ...filled } = structuredClone(draft) as Record<string, unknown> & {
      inputs: Record<string, Record<string, unknown>>;
      tasks: Record<string, unknown>[];
    };
    if (filled.inputs.text) filled.inputs.text['vectors' in filled.inputs.text ? 'vectors' : 'tokenizer'] = textFile;
    for (const task of filled.tasks) {
      const mine = shipped.tasks.find((t) => t.output === task.output);
      if (Array.isArray(task.labels) && mine && 'labels' in mine) task.labels = mine.labels;
    }
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(filled));
    // Assess: the TODOs were all that was missing, and the graph agrees with the draft.
    expect((draft.draft as string[]).length).toBeGreaterThan(0); // a draft, refused as it stands
    if (textFile) expect(JSON.stringify(draft)).toContain('TODO');
    const model = await loadModelBundle(dir, { engine: 'cpu', threads: 1 });
    await model.engine.close();
    expect(Object.keys(model.manifest.inputs).sort()).toEqual(Object.keys(shipped.inputs).sort());
    // Every task of the bundle is drafted, but for outputs whose shapes the graph leaves symbolic
    // (the reference export's detection outputs): those are named in the notes as left out.
    const drafted = new Set(model.manifest.tasks.map((t) => t.output));
    for (const task of shipped.tasks) {
      if (!drafted.has(task.output)) {
        expect(draft.draft as string[]).toContainEqual(expect.stringContaining(`output '${task.output}'`));
      }
    }
    expect(drafted.size).toBeGreaterThanOrEqual(shipped.tasks.length - 1);
  });
});

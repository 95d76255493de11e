/**
 * `fusebatch infer`: a folder of pairs through the runtime into a JSON Lines file, one line
 * per pair (results and errors alike), with a progress bar on a terminal and a summary.
 */

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { readTruthImage, SharpImageDecoder } from '../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../lambdas/adapters/model-bundle.js';
import type { ErrorCode } from '../lambdas/core/errors.js';
import { Evaluation, type TaskMetrics } from '../lambdas/core/evaluation.js';
import type { DenseImage } from '../lambdas/core/kinds/index.js';
import { pairNeeds } from '../lambdas/core/manifest.js';
import type { MaskFormat } from '../lambdas/core/mask-format.js';
import { type MaskStore, runPipeline } from '../lambdas/core/pipeline.js';
import type { OutputRecord } from '../lambdas/core/records.js';
import { parseTruth } from '../lambdas/core/report/truth.js';
import type { EngineName } from '../lambdas/core/tensor.js';
import { FolderMaskStore, listFolderPairs } from './adapters/local-files.js';

export interface InferOptions {
  readonly model: string;
  readonly input: string;
  readonly out: string;
  readonly engine: EngineName;
  readonly batch?: number;
  readonly threads: number;
  readonly masks?: string;
  /** Masks and class maps inline as COCO RLE, as PNG files in `masks`, or both (default: the pipeline's). */
  readonly maskFormat?: MaskFormat;
  /** Ground truth (JSON Lines: `id` and each task's expected value; mask paths relative to the file). */
  readonly truth?: string;
  /** Show a progress bar (on a terminal). */
  readonly progress: boolean;
}

export interface InferSummary {
  readonly pairs: number;
  readonly errors: number;
  readonly errorsByCode: Partial<Record<ErrorCode, number>>;
  readonly seconds: number;
  readonly pairsPerSecond: number;
  /** Per-task metrics, when ground truth was given. */
  readonly metrics?: TaskMetrics[];
}

export async function infer(options: InferOptions): Promise<InferSummary> {
  // The engine runs in a worker thread: inference overlaps decoding and writing on this one.
  const model = await loadModelBundle(options.model, {
    engine: options.engine,
    threads: options.threads,
    inWorkerThread: true,
  });
  try {
    const pairs = await listFolderPairs(options.input, pairNeeds(model.manifest));
    const folderMasks = options.masks ? new FolderMaskStore(options.masks) : undefined;
    const truths = options.truth
      ? parseTruth(model.manifest, await readFile(options.truth, 'utf8'), options.truth)
      : undefined;
    const truthDir = options.truth ? path.dirname(options.truth) : '';
    const evaluation = truths
      ? new Evaluation(
          model.manifest,
          (ref, form) => readTruthImage(path.join(truthDir, ref), form),
          async (id, task) => takeKept(id, task),
        )
      : undefined;
    // Predicted dense outputs are kept in memory until scored, whether or not they are written.
    const kept = new Map<string, DenseImage>();
    const takeKept = (id: string, task: string) => {
      const image = kept.get(`${id}\0${task}`) ?? null;
      kept.delete(`${id}\0${task}`);
      return image;
    };
    const masks: MaskStore | undefined =
      folderMasks || evaluation
        ? {
            save: async (id, task, image) => {
              if (evaluation && truths?.has(id)) kept.set(`${id}\0${task}`, image);
              return folderMasks ? folderMasks.save(id, task, image) : null;
            },
          }
        : undefined;
    await mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
    const out = createWriteStream(options.out);
    const bar = options.progress
      ? new cliProgress.SingleBar(
          {
            format: 'infer |{bar}| {value}/{total} pairs | {errors} errors | {rate} pairs/s | eta {eta_formatted}',
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    bar?.start(pairs.length, 0, { errors: 0, rate: '0.0' });
    const started = performance.now();
    const errorsByCode: Partial<Record<ErrorCode, number>> = {};
    let done = 0;
    let errors = 0;
    const records = runPipeline(pairs, {
      model,
      images: new SharpImageDecoder(),
      masks,
      maskFormat: options.maskFormat,
      batchSize: options.batch,
    });
    for await (const record of records as AsyncIterable<OutputRecord>) {
      if (!out.write(JSON.stringify(record) + '\n')) await once(out, 'drain');
      done++;
      const truth = truths?.get(record.id);
      if (evaluation && truth) await evaluation.add(record, truth);
      // A picture the record also carries as RLE was scored from that: drop its kept copy.
      for (const task of model.manifest.tasks) kept.delete(`${record.id}\0${task.name}`);
      if (record.status === 'error') {
        errors++;
        errorsByCode[record.error.code] = (errorsByCode[record.error.code] ?? 0) + 1;
      }
      const rate = (done / ((performance.now() - started) / 1000)).toFixed(1);
      bar?.update(done, { errors, rate });
    }
    bar?.stop();
    out.end();
    await once(out, 'finish');
    const seconds = (performance.now() - started) / 1000;
    return {
      pairs: done,
      errors,
      errorsByCode,
      seconds,
      pairsPerSecond: done / seconds,
      metrics: evaluation?.summary(),
    };
  } finally {
    await model.engine.close();
  }
}

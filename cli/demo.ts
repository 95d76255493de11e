/**
 * `npm start` (`fusebatch demo`): the whole flow on this machine. Starts the embedded S3
 * server with the bundled model, submits the evaluation pairs as a job and a few single
 * pairs, waits, scores the results against the bundled ground truth, writes the job's HTML
 * report and prints a summary.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeDensePng, readTruthImage } from '../lambdas/adapters/image-codec.js';
import { Evaluation, type TaskMetrics } from '../lambdas/core/evaluation.js';
import { jobKeys } from '../lambdas/core/keys.js';
import { kindOf } from '../lambdas/core/kinds/index.js';
import type { ModelManifest } from '../lambdas/core/manifest.js';
import { DEFAULT_MASK_FORMAT, type MaskFormat, writesPng } from '../lambdas/core/mask-format.js';
import { ObjectNotFoundError } from '../lambdas/core/ports.js';
import type { OutputRecord } from '../lambdas/core/records.js';
import type { EngineName } from '../lambdas/core/tensor.js';
import { type LocalPipeline, startLocalPipeline } from '../local/local-pipeline.js';
import { jobRecords, sendPair, submitFolder, waitForJob } from './bucket-commands.js';
import { writeReport } from './report.js';

export interface DemoOptions {
  readonly model: string;
  readonly pairs: string;
  readonly truth: string;
  readonly out: string;
  readonly port: number;
  readonly workers: number;
  readonly engine: EngineName;
  readonly threads: number;
  readonly chunkSize: number;
  /** Masks and class maps inline as COCO RLE, as PNG objects, or both. */
  readonly maskFormat?: MaskFormat;
  readonly progress: boolean;
  /** Keep serving after the summary (until interrupted). */
  readonly serve: boolean;
}

export interface DemoSummary {
  readonly job: string;
  readonly pairs: number;
  readonly errors: number;
  readonly seconds: number;
  readonly pairsPerSecond: number;
  readonly metrics: TaskMetrics[];
  readonly singlePairs: { id: string; status: string }[];
  readonly resultsFile: string;
  /** The job's HTML report (with the ground truth's marks and metrics). */
  readonly reportFile: string;
  readonly pipeline: LocalPipeline;
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const pipeline = await startLocalPipeline({
    port: options.port,
    dataDir: path.join(options.out, 's3'),
    workers: options.workers,
    modelDir: options.model,
    engine: options.engine,
    threads: options.threads,
    chunkSize: options.chunkSize,
    batchThreshold: Number.MAX_SAFE_INTEGER,
    visibilityTimeoutMs: 60_000,
    maxReceiveCount: 3,
    maskFormat: options.maskFormat,
  });
  try {
    const { store } = pipeline;
    const started = performance.now();
    const { job, pairs } = await submitFolder(store, options.pairs, {
      job: `demo-${Date.now()}`,
      progress: options.progress,
    });
    await waitForJob(store, job, { progress: options.progress, timeoutMs: 30 * 60_000, intervalMs: 250 });
    const seconds = (performance.now() - started) / 1000;

    // Single pairs through inbox/, as a user would drop them.
    const truthLines = (await readFile(options.truth, 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    const singlePairs: { id: string; status: string }[] = [];
    for (const t of truthLines.slice(0, 3)) {
      const record = await sendPair(store, path.join(options.pairs, path.basename(t.image)), t.text, {
        id: `demo/${t.id}`,
        timeoutMs: 60_000,
      });
      singlePairs.push({ id: record.id, status: record.status === 'ok' ? 'ok' : record.error.code });
    }

    const truths = new Map(truthLines.map((t) => [t.id as string, t]));
    const truthDir = path.dirname(options.truth);
    const evaluation = new Evaluation(
      pipeline.model.manifest,
      (ref, form) => readTruthImage(path.join(truthDir, ref), form),
      async (_id, _task, key) => {
        if (!key) return null;
        try {
          return decodeDensePng(await store.get(key));
        } catch (error) {
          if (error instanceof ObjectNotFoundError) return null;
          throw error;
        }
      },
    );
    const records: OutputRecord[] = [];
    for await (const record of jobRecords(store, job)) {
      records.push(record);
      const truth = truths.get(record.id);
      if (truth) await evaluation.add(record, truth);
    }
    await mkdir(options.out, { recursive: true });
    const resultsFile = path.join(options.out, `${job}.jsonl`);
    await writeFile(resultsFile, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const report = await writeReport(store, {
      job,
      out: path.join(options.out, `${job}.html`),
      manifest: pipeline.model.manifest,
      truth: options.truth,
    });
    return {
      job,
      pairs,
      errors: records.filter((r) => r.status === 'error').length,
      seconds,
      pairsPerSecond: pairs / seconds,
      metrics: evaluation.summary(),
      singlePairs,
      resultsFile,
      reportFile: report.file,
      pipeline,
    };
  } catch (error) {
    // A failed demo must not leave the server and workers holding the process open.
    await pipeline.close();
    throw error;
  }
}

/**
 * Where the demo job's objects are; `_masks/` when some task writes PNGs there: every dense
 * task with the png format, else only those with no inline form (value maps).
 */
export function describeKeys(job: string, manifest: ModelManifest, maskFormat: MaskFormat = DEFAULT_MASK_FORMAT) {
  const pngs = manifest.tasks.some((t) => kindOf(t).denseKey && (writesPng(maskFormat) || !kindOf(t).inlineDense));
  const masks = pngs ? [jobKeys.masksPrefix(job)] : [];
  return [jobKeys.partsPrefix(job), jobKeys.errorsPrefix(job), ...masks, jobKeys.status(job)];
}

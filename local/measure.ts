/**
 * The local pipeline's rate on this machine now: a job of pairs uploaded to a fresh embedded
 * server and run to completion through ingest and the workers, as `fusebatch serve` runs it
 * (the cpu engine, a thread a worker). `bench:calibrate` stores the rate in the bundle's
 * calibration; `fusebatch estimate --measure` takes it from the job's own first pairs, on the
 * machine and at the load the job will meet.
 */

import { createReadStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { listFolderPairs } from '../cli/adapters/local-files.js';
import { isUnderFolder, jsonObjectOrNull, submitFolder, waitForJob } from '../cli/bucket-commands.js';
import { FusebatchError } from '../lambdas/core/errors.js';
import { startLocalPipeline } from './local-pipeline.js';

export interface LocalRate {
  readonly workers: number;
  readonly chunkSize: number;
  /** Pairs of the larger of the two runs. */
  readonly pairs: number;
  /** Pairs a second of the workers together, once a job runs (the slope between the two runs). */
  readonly pairsPerSecond: number;
  /**
   * A job's time beyond its pairs': the upload's first requests, the manifest's event, ingest's
   * writes, the engine's first runs, completion and the last look at the status (the intercepts).
   */
  readonly jobSeconds: number;
  /** Pairs `submit` uploads a second (8 at a time), once under way (the upload's slope). */
  readonly uploadPairsPerSecond: number;
}

/** One job through the local pipeline: its pairs, its upload's seconds, and from upload to completion. */
export interface LocalRun {
  readonly pairs: number;
  readonly uploadSeconds: number;
  readonly seconds: number;
}

/**
 * A job's seconds as `jobSeconds + pairs / uploadPairsPerSecond + pairs / pairsPerSecond`,
 * through two runs of different sizes: one size alone folds the fixed part into the rates,
 * which then run slow for a short sample and fast for a long job. Runs whose times do not grow
 * with their size (noise) give the larger one's plain rate and no fixed part.
 */
export function fitLocalRate(
  small: LocalRun,
  large: LocalRun,
): Pick<LocalRate, 'pairsPerSecond' | 'jobSeconds' | 'uploadPairsPerSecond'> {
  const line = (seconds: (r: LocalRun) => number) => {
    const slope = (seconds(large) - seconds(small)) / (large.pairs - small.pairs);
    if (!(slope > 0) || large.pairs <= small.pairs) return { perSecond: large.pairs / seconds(large), fixed: 0 };
    return { perSecond: 1 / slope, fixed: Math.max(0, seconds(large) - large.pairs * slope) };
  };
  const run = line((r) => r.seconds);
  const upload = line((r) => r.uploadSeconds);
  return {
    pairsPerSecond: run.perSecond,
    uploadPairsPerSecond: upload.perSecond,
    jobSeconds: run.fixed + upload.fixed,
  };
}

export interface LocalRateOptions {
  readonly modelDir: string;
  readonly workers: number;
  readonly chunkSize: number;
  /** Where the embedded server keeps its data (removed by the caller). */
  readonly dataDir: string;
}

/**
 * Runs a small and a large folder of pairs, in that order, as two jobs through one fresh local
 * pipeline (as a job meets it: the small one pays the engine's first runs), and fits the rate.
 */
export async function measureLocalRate(
  folders: { readonly small: string; readonly large: string; readonly warmUp?: string },
  options: LocalRateOptions,
): Promise<LocalRate> {
  const pipeline = await startLocalPipeline({
    port: 0,
    dataDir: options.dataDir,
    workers: options.workers,
    modelDir: options.modelDir,
    engine: 'cpu',
    threads: 1,
    chunkSize: options.chunkSize,
    batchThreshold: Number.MAX_SAFE_INTEGER, // every job on the queue, as serve's workers take it
    visibilityTimeoutMs: 60_000,
    maxReceiveCount: 3,
    logLevel: 'WARN',
  });
  const run = async (folder: string, name: string): Promise<LocalRun> => {
    const began = performance.now();
    const { job, pairs } = await submitFolder(pipeline.store, folder, { progress: false, job: name });
    const uploaded = performance.now();
    // Polled as `fusebatch status --watch` would be, at most: a status read is several requests,
    // which at a faster pace slow the server the pipeline shares. The look's delay is the same
    // in both runs, so it lands in the fit's fixed part, not in the rate.
    const status = await waitForJob(pipeline.store, job, { progress: false, timeoutMs: 600_000, intervalMs: 100 });
    if (status.state !== 'complete') {
      throw new FusebatchError(`the measured run of ${pairs} pairs ended ${status.state}, not complete`);
    }
    return { pairs, uploadSeconds: (uploaded - began) / 1000, seconds: (performance.now() - uploaded) / 1000 };
  };
  try {
    // Untimed: the client's first connections and the engine's first runs would otherwise fall
    // on the small run alone and steepen both fitted rates (an upload measured at 2,200 pairs/s).
    if (folders.warmUp) await run(folders.warmUp, 'measure-warm-up');
    const small = await run(folders.small, 'measure-small');
    const large = await run(folders.large, 'measure-large');
    return {
      workers: options.workers,
      chunkSize: options.chunkSize,
      pairs: large.pairs,
      ...fitLocalRate(small, large),
    };
  } finally {
    await pipeline.close();
  }
}

/**
 * The first `count` pairs of a job's source (a folder of pairs, or a .jsonl manifest whose
 * images are files beside it) copied into a new folder as `s<n>.<ext>` + `s<n>.txt`. A manifest
 * line that is not JSON is left out: it costs the pipeline next to nothing.
 */
export async function samplePairs(source: string, count: number, into: string): Promise<number> {
  await mkdir(into, { recursive: true });
  const name = (n: number) => `s${String(n).padStart(6, '0')}`;
  let taken = 0;
  const write = async (image: string | null, text: string | Uint8Array | null) => {
    const id = name(taken++);
    if (image) await copyFile(image, path.join(into, `${id}${path.extname(image).toLowerCase()}`));
    if (text !== null) await writeFile(path.join(into, `${id}.txt`), text);
  };
  if (source.toLowerCase().endsWith('.jsonl')) {
    const dir = path.dirname(path.resolve(source));
    const lines = createInterface({ input: createReadStream(source), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (taken >= count) break;
      const value = jsonObjectOrNull(line);
      if (!value) continue;
      if (typeof value.image === 'string' && !isUnderFolder(dir, value.image)) continue; // submit would refuse it
      const image = typeof value.image === 'string' ? path.resolve(dir, value.image) : null;
      await write(image, typeof value.text === 'string' ? value.text : null);
    }
    return taken;
  }
  if (!source.toLowerCase().endsWith('.csv')) {
    for (const pair of (await listFolderPairs(source)).slice(0, count)) {
      const image = pair.image && !pair.image.includes(',') ? path.join(source, pair.image) : null;
      const text = await pair.readText().catch(() => null);
      await write(image, text);
    }
    return taken;
  }
  throw new FusebatchError(`--measure needs a folder of pairs or a .jsonl manifest with local images, not ${source}`);
}

/**
 * Samples the source's first `count` pairs (the large run) and as many as one wave of chunks
 * takes (the small run), and measures the local pipeline on them. Chunks are the job's own
 * size where the sample holds two waves of them or more, so that a chunk's own costs count as
 * they will; a smaller sample takes smaller chunks, and its rate leans slow.
 */
export async function measureSourceRate(
  source: string,
  count: number,
  options: Omit<LocalRateOptions, 'dataDir'>,
): Promise<LocalRate> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-measure-'));
  try {
    const large = path.join(scratch, 'large');
    const taken = await samplePairs(source, count, large);
    if (!taken) throw new FusebatchError(`${source}: no pairs to measure`);
    const chunkSize = Math.max(1, Math.min(options.chunkSize, Math.floor(taken / (2 * options.workers))));
    // The small run is the large one's first pairs, taken from the sample just written, and a
    // chunk a worker before both warms the pipeline.
    const small = path.join(scratch, 'small');
    await samplePairs(large, options.workers * chunkSize, small);
    const warmUp = path.join(scratch, 'warm-up');
    await samplePairs(large, options.workers, warmUp);
    return await measureLocalRate(
      { small, large, warmUp },
      { ...options, chunkSize, dataDir: path.join(scratch, 's3') },
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

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
import { submitFolder, waitForJob } from '../cli/bucket-commands.js';
import { FusebatchError } from '../lambdas/core/errors.js';
import { startLocalPipeline } from './local-pipeline.js';

export interface LocalRate {
  readonly workers: number;
  readonly chunkSize: number;
  readonly pairs: number;
  /** Pairs a second from the manifest's upload to the job's completion (ingest and workers). */
  readonly pairsPerSecond: number;
  /** Pairs `submit` uploaded a second (8 at a time). */
  readonly uploadPairsPerSecond: number;
}

export interface LocalRateOptions {
  readonly modelDir: string;
  readonly workers: number;
  readonly chunkSize: number;
  /** Where the embedded server keeps its data (removed by the caller). */
  readonly dataDir: string;
  readonly job?: string;
}

/** Runs the folder's pairs as one job through a fresh local pipeline and times it. */
export async function measureLocalRate(folder: string, options: LocalRateOptions): Promise<LocalRate> {
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
  try {
    const began = performance.now();
    const { job, pairs } = await submitFolder(pipeline.store, folder, {
      progress: false,
      job: options.job ?? 'measure-rate',
    });
    const uploaded = performance.now();
    const status = await waitForJob(pipeline.store, job, { progress: false, timeoutMs: 600_000, intervalMs: 100 });
    const seconds = (performance.now() - uploaded) / 1000;
    if (status.state !== 'complete') {
      throw new FusebatchError(`the measured run of ${pairs} pairs ended ${status.state}, not complete`);
    }
    return {
      workers: options.workers,
      chunkSize: options.chunkSize,
      pairs,
      pairsPerSecond: pairs / seconds,
      uploadPairsPerSecond: pairs / ((uploaded - began) / 1000),
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
      let value: { image?: unknown; text?: unknown };
      try {
        value = JSON.parse(line);
      } catch {
        continue;
      }
      if (!value || typeof value !== 'object') continue;
      const image = typeof value.image === 'string' ? path.resolve(dir, value.image) : null;
      if (image && path.relative(dir, image).startsWith('..')) continue; // submit would refuse it
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

/** Samples the source's first `count` pairs and measures the local pipeline on them. */
export async function measureSourceRate(
  source: string,
  count: number,
  options: Omit<LocalRateOptions, 'dataDir' | 'chunkSize'>,
): Promise<LocalRate> {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-measure-'));
  try {
    const folder = path.join(scratch, 'pairs');
    const taken = await samplePairs(source, count, folder);
    if (!taken) throw new FusebatchError(`${source}: no pairs to measure`);
    // Two waves of chunks, so that every worker is busy for most of the run.
    const chunkSize = Math.max(1, Math.ceil(taken / (2 * options.workers)));
    return await measureLocalRate(folder, { ...options, chunkSize, dataDir: path.join(scratch, 's3') });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * What a job will cost and how long it will take, before it runs (issue 17): for each route
 * (the Lambda workers on the queue, AWS Batch GPU children, the local pipeline), the duration,
 * Lambda GB-seconds and requests, S3 requests by kind, SQS requests, GPU instance hours, and
 * what each costs. Pure: the job's counts, the deploy settings, the bundle's calibration (rates
 * and request counts measured by `npm run bench:calibrate`) and a price table in; numbers out.
 * `fusebatch estimate`, `submit --dry-run` and `bench:scale --cost-only` all price with it.
 */
import * as z from 'zod';
import { batchShards } from './batch-shards.js';
import { type MaskFormat, writesPng } from './mask-format.js';

export const ROUTES = ['queue', 'batch', 'local'] as const;
export type Route = (typeof ROUTES)[number];

const usd = z.number().min(0);

/**
 * Prices, USD. A setting, not code: `--prices FILE.json` overrides any of them (a partial
 * object, checked by PricesOverrideSchema), for another region, a discount or a new price.
 */
export const PricesSchema = z
  .object({
    /** Where and when the figures were read, shown with every estimate. */
    source: z.string().min(1),
    /** Lambda duration, per GB-second, by architecture. */
    lambdaGbSecond: z.object({ x86_64: usd, arm64: usd }).strict(),
    lambdaPerMillionRequests: usd,
    /** S3 Standard PUT, COPY, POST and LIST requests, per 1,000. */
    s3PutListPerThousand: usd,
    /** S3 Standard GET, HEAD and all other requests, per 1,000. */
    s3GetHeadPerThousand: usd,
    /** SQS standard queue requests (a 64 KB chunk of a payload is one request), per million. */
    sqsPerMillionRequests: usd,
    /** On-demand EC2 instance hours for the GPU route, by instance type. */
    instanceHour: z.record(z.string(), usd),
  })
  .strict();
export type Prices = z.infer<typeof PricesSchema>;

/** `--prices FILE.json`: any of the prices (instance types merge with the table's), nothing unknown. */
export const PricesOverrideSchema = PricesSchema.extend({
  lambdaGbSecond: z.object({ x86_64: usd, arm64: usd }).strict().partial(),
}).partial();
export type PricesOverride = z.infer<typeof PricesOverrideSchema>;

/**
 * AWS list prices, us-east-1, on-demand, as published on the pricing pages of Lambda
 * (aws.amazon.com/lambda/pricing: first 6 billion GB-s a month tier), S3 (aws.amazon.com/s3/pricing:
 * S3 Standard requests), SQS (aws.amazon.com/sqs/pricing: standard queue, past the free first
 * million a month) and EC2 (aws.amazon.com/ec2/pricing/on-demand: Linux). Read 2026-11; the same
 * figures bench/scale.ts priced with. Free tiers and Savings Plans are left out.
 */
export const DEFAULT_PRICES: Prices = {
  source: 'AWS list prices, us-east-1, on-demand, read 2026-11 (no free tier)',
  lambdaGbSecond: { x86_64: 0.0000166667, arm64: 0.0000133334 },
  lambdaPerMillionRequests: 0.2,
  s3PutListPerThousand: 0.005,
  s3GetHeadPerThousand: 0.0004,
  sqsPerMillionRequests: 0.4,
  instanceHour: { 'g4dn.xlarge': 0.526, 'g5.xlarge': 1.006, 'g6.xlarge': 0.8048 },
};

/** The defaults with an override on top (instance types merged, the rest replaced). */
export function withPriceOverride(base: Prices, over: PricesOverride): Prices {
  return PricesSchema.parse({
    ...base,
    ...over,
    lambdaGbSecond: { ...base.lambdaGbSecond, ...over.lambdaGbSecond },
    instanceHour: { ...base.instanceHour, ...over.instanceHour },
  });
}

const rate = z.number().positive();
/** A Lambda engine's pairs a second by threads, end to end in memory. */
const lambdaRates = z.array(z.object({ threads: z.number().int().positive(), pairsPerSecond: rate }).strict()).min(1);
const requestCounts = z.object({ get: z.number().min(0), put: z.number().min(0), list: z.number().min(0) }).strict();
export type RequestCounts = z.infer<typeof requestCounts>;

/**
 * What `npm run bench:calibrate` measured for one model bundle on one machine
 * (`<bundle>/calibration.json`).
 */
export const CalibrationSchema = z
  .object({
    schemaVersion: z.literal(1),
    /** The bundle measured: a model.onnx with another SHA-256 makes the estimate warn. */
    model: z.object({ name: z.string(), version: z.string(), sha256: z.string() }).strict(),
    measuredAt: z.string(),
    /** Where: rates are this machine's (a Lambda vCPU is not a desktop core). */
    machine: z
      .object({
        cpu: z.string(),
        cores: z.number().int().positive(),
        memoryGiB: z.number().positive(),
        node: z.string(),
        platform: z.string(),
        /** The one-minute load average when the measurement started and ended (a shared machine's rates follow it). */
        loadAverage: z.tuple([z.number(), z.number()]).optional(),
        note: z.string().optional(),
      })
      .strict(),
    /** Dense outputs a pair as PNGs (masks, class maps, value maps), of which masks and class maps (what `rle` keeps inline). */
    outputs: z.object({ densePerPair: z.number().min(0), masksPerPair: z.number().min(0) }).strict(),
    /** The wasm Lambda engine end to end in memory (decode, inference, PNGs encoded), by threads. */
    wasm: lambdaRates,
    /**
     * The cpu Lambda engine (onnxruntime-node, lambdaEngine cpu), measured as `wasm` is (one
     * pipeline, the engine in its worker thread, by threads). Absent from calibrations written
     * before it was measured: a cpu deployment is then priced at the wasm rate, with a note.
     */
    lambdaCpu: lambdaRates.optional(),
    /** The local engine (cpu, 1 thread each): the summed rate of N pipelines at once, by N. */
    cpu: z.array(z.object({ workers: z.number().int().positive(), pairsPerSecond: rate }).strict()).min(1),
    /**
     * Requests of the pipeline's protocol, measured on a real job through the local pipeline:
     * S3 by chunk (ingest's chunk object, the worker's status, stop and marker checks, its
     * chunk, two parts, its marker and group listing) and by job (lease, status, routing,
     * completion's top), besides the image GET and dense-output PUTs of each pair. HEAD is
     * priced as a GET. SQS by chunk: a tenth of a SendMessageBatch, a receive and a delete.
     */
    protocol: z.object({ s3PerChunk: requestCounts, s3PerJob: requestCounts, sqsPerChunk: z.number().min(0) }).strict(),
    /** Manifest lines ingest reads, checks and writes into chunks a second (against the local server). */
    ingestLinesPerSecond: rate,
    /** The local pipeline (`fusebatch serve`/`demo`) on this machine, for `--route local`. */
    local: z
      .object({
        /** Wall milliseconds of one small request to the embedded S3 server, one at a time. */
        requestMs: z.number().min(0),
        /** Pairs `submit` uploads a second (8 at a time, as it does). */
        uploadPairsPerSecond: rate,
        /**
         * A job's pairs a second through the whole local pipeline, from its manifest's upload to
         * its completion (ingest, every request to the embedded server, the engine shared by
         * `workers` workers): on a few cores the server's work takes CPU from the engine, which
         * the engine's rate alone does not show.
         */
        pipeline: z
          .object({
            workers: z.number().int().positive(),
            chunkSize: z.number().int().positive(),
            pairsPerSecond: rate,
            /**
             * A job's seconds beyond its pairs' (the upload's event, ingest's writes, the
             * engine's first runs, completion), fitted with the rate from two job sizes.
             * Absent in older calibrations, whose one-size rate holds it folded in.
             */
            jobSeconds: z.number().min(0).optional(),
          })
          .strict(),
      })
      .strict(),
  })
  .strict();
export type Calibration = z.infer<typeof CalibrationSchema>;

/** The deploy settings the estimate reads (lib/config.ts's resolved PipelineConfig has them all). */
export interface EstimateSettings {
  readonly chunkSize: number;
  readonly architecture: 'x86_64' | 'arm64';
  /** The functions' engine (config lambdaEngine): the Lambda route is priced at its calibrated rate. */
  readonly lambdaEngine: 'wasm' | 'cpu';
  readonly ingest: { readonly memoryMiB: number };
  readonly worker: {
    readonly memoryMiB: number;
    /** The engine's threads: Lambda's whole vCPUs at that memory. */
    readonly threads: number;
    readonly reservedConcurrency: number;
  };
  readonly gpu: {
    readonly enabled: boolean;
    readonly threshold: number;
    readonly secondsPerPair: number;
    readonly timeoutSeconds: number;
    readonly instanceTypes: readonly string[];
    readonly maxVcpus: number;
    readonly containerVcpus: number;
  };
}

/** The job as submit would send it. */
export interface JobCounts {
  /** Manifest lines (a folder: its pairs); each is one record, and chunks hold lines. */
  readonly lines: number;
  /** Lines with an image the workers read (0 for a model that reads no image). */
  readonly images: number;
  /** Images `submit` uploads from this machine (a bucket manifest's keys are uploaded already). */
  readonly uploads: number;
}

export interface EstimateInput {
  readonly job: JobCounts;
  readonly settings: EstimateSettings;
  readonly calibration: Calibration;
  readonly prices: Prices;
  /** The deployment's `masks`: with `rle`, masks and class maps ride in the records (no PUT). */
  readonly maskFormat: MaskFormat;
  /** Workers of the local pipeline (`--route local`). */
  readonly localWorkers: number;
}

/**
 * Assumptions that cannot be measured without AWS, named so that they are read, not buried.
 * Lambda's vCPU share: 1,769 MB is one vCPU (AWS documents the ratio).
 */
export const ASSUMED = {
  /** Megabytes of Lambda memory per vCPU. */
  lambdaMbPerVcpu: 1769,
  /** Init of a worker (bundle, WebAssembly compile or native runtime load, session) once per concurrent function; billed since 2025-08. */
  lambdaInitSeconds: 3,
  /** A chunk's protocol round trips to S3 from Lambda (about 8 requests, some in parallel, ~30 ms each). */
  lambdaChunkOverheadSeconds: 0.3,
  /** A compute environment scaling from 0: instance launch and the CUDA image's pull, once per instance. */
  batchInstanceStartSeconds: 300,
  /** A child's container start and model load on a running instance. */
  batchChildStartSeconds: 20,
} as const;

export interface S3Requests {
  readonly get: number;
  readonly put: number;
  readonly list: number;
}

export interface RouteEstimate {
  readonly route: Route;
  /** False when the stack has no such route (the GPU route with gpu.enabled false). */
  readonly deployed: boolean;
  readonly seconds: number;
  readonly lambda: { readonly gbSeconds: number; readonly requests: number; readonly usd: number };
  /** By where they happen: the upload from this machine, ingest, chunks' protocol, pairs' images and outputs. */
  readonly s3: {
    readonly upload: S3Requests;
    readonly ingest: S3Requests;
    readonly protocol: S3Requests;
    readonly pairs: S3Requests;
    readonly total: S3Requests;
    readonly usd: number;
    /** Of usd, the pairs' dense-output PUTs (what `masks: rle` removes for masks and class maps). */
    readonly outputPutsUsd: number;
  };
  readonly sqs: { readonly requests: number; readonly usd: number };
  readonly gpu: {
    readonly instanceType: string | null;
    readonly children: number;
    readonly instanceHours: number;
    readonly usd: number;
  };
  readonly usd: number;
  /** What the duration rests on, in words (rates, waves, children). */
  readonly basis: string;
}

export interface Estimate {
  readonly lines: number;
  readonly chunks: number;
  /** The route the stack takes for this job. */
  readonly route: 'queue' | 'batch';
  readonly routeReason: string;
  readonly maskFormat: MaskFormat;
  readonly routes: Record<Route, RouteEstimate>;
  readonly notes: readonly string[];
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const add = (...parts: S3Requests[]): S3Requests => ({
  get: parts.reduce((s, p) => s + p.get, 0),
  put: parts.reduce((s, p) => s + p.put, 0),
  list: parts.reduce((s, p) => s + p.list, 0),
});
const scale = (r: S3Requests, k: number): S3Requests => ({ get: r.get * k, put: r.put * k, list: r.list * k });

/** The stack's choice, as ingest makes it: more pairs than gpu.threshold, with the GPU route deployed. */
export function pickRoute(lines: number, gpu: EstimateSettings['gpu']): { route: 'queue' | 'batch'; reason: string } {
  if (!gpu.enabled) return { route: 'queue', reason: 'gpu.enabled is false' };
  return lines > gpu.threshold
    ? { route: 'batch', reason: `${lines} lines > gpu.threshold ${gpu.threshold}` }
    : { route: 'queue', reason: `${lines} lines ≤ gpu.threshold ${gpu.threshold}` };
}

/** The measured rate for `key`, or the nearest measured below it (never extrapolated upwards). */
function measuredAt<T extends { pairsPerSecond: number }>(
  rows: readonly T[],
  of: (row: T) => number,
  key: number,
): { pairsPerSecond: number; at: number } {
  const sorted = [...rows].sort((a, b) => of(a) - of(b));
  const row = sorted.filter((r) => of(r) <= key).at(-1) ?? sorted[0];
  return { pairsPerSecond: row.pairsPerSecond, at: of(row) };
}

/**
 * Seconds for `lines` lines in chunks of `chunkSize` on `workers` workers that each take the
 * next chunk when free: full waves, then the last (possibly partial) wave. `chunkSeconds(n, k)`
 * is a chunk of n lines while k workers run at once.
 */
export function waveSeconds(
  lines: number,
  chunkSize: number,
  workers: number,
  chunkSeconds: (linesInChunk: number, running: number) => number,
): number {
  const chunks = Math.ceil(lines / chunkSize);
  if (!chunks) return 0;
  const fullWaves = Math.floor(chunks / workers);
  const leftChunks = chunks % workers;
  const last = lines - (chunks - 1) * chunkSize; // the last chunk's lines
  if (leftChunks === 0) {
    // The last wave holds the partial chunk, run beside full ones: the wave lasts a full chunk.
    return fullWaves * chunkSeconds(chunkSize, workers);
  }
  const tail = chunkSeconds(leftChunks === 1 ? last : chunkSize, leftChunks);
  return fullWaves * chunkSeconds(chunkSize, workers) + tail;
}

export function estimateJob(input: EstimateInput): Estimate {
  const { job, settings, calibration: cal, prices, maskFormat } = input;
  const { lines, images } = job;
  const chunks = Math.ceil(lines / settings.chunkSize);
  const picked = pickRoute(lines, settings.gpu);
  const notes: string[] = [];
  const putPrice = prices.s3PutListPerThousand / 1000;
  const getPrice = prices.s3GetHeadPerThousand / 1000;
  const s3Usd = (r: S3Requests) => (r.put + r.list) * putPrice + r.get * getPrice;

  // S3: the same protocol on every route (the Batch child runs the worker's runChunk).
  const outputPutsPerPair = writesPng(maskFormat)
    ? cal.outputs.densePerPair
    : cal.outputs.densePerPair - cal.outputs.masksPerPair;
  // submit: the name check (a HEAD and a LIST), the images, then the manifest.
  const upload: S3Requests = { get: 1, put: job.uploads + 1, list: 1 };
  const pairs: S3Requests = { get: images, put: images * outputPutsPerPair, list: 0 };
  const ingestSeconds = lines / cal.ingestLinesPerSecond;
  const protocolFor = (route: Route): { ingest: S3Requests; protocol: S3Requests } => {
    const perChunk = scale(cal.protocol.s3PerChunk, chunks);
    // A Batch child reads the status document once for its shard, not once a chunk.
    const children = route === 'batch' ? batchChildren(chunks, settings) : 0;
    const protocol = route === 'batch' ? { ...perChunk, get: Math.max(0, perChunk.get - chunks) + children } : perChunk;
    return { ingest: cal.protocol.s3PerJob, protocol };
  };
  const s3For = (route: Route) => {
    const { ingest, protocol } = protocolFor(route);
    const total = add(upload, ingest, protocol, pairs);
    const outputPuts = images * outputPutsPerPair;
    return { upload, ingest, protocol, pairs, total, usd: s3Usd(total), outputPutsUsd: outputPuts * putPrice };
  };

  // The ingest function: one invocation reading the manifest.
  const ingestGbSeconds = (settings.ingest.memoryMiB / 1024) * ingestSeconds;
  const lambdaGbPrice = prices.lambdaGbSecond[settings.architecture];
  const requestPrice = prices.lambdaPerMillionRequests / 1e6;

  // Queue: Lambda workers on the deployed engine, at most reservedConcurrency at once.
  const { worker } = settings;
  // The deployed engine's calibrated rates; a calibration from before the cpu engine's were
  // measured has the wasm engine's alone.
  let engine: 'wasm' | 'cpu' = settings.lambdaEngine;
  if (engine === 'cpu' && !cal.lambdaCpu) {
    engine = 'wasm';
    notes.push(
      "the functions' engine is cpu, but this calibration has no cpu Lambda rate (written before it was measured): the Lambda route is estimated at the wasm engine's rate, slower and dearer than cpu's; rerun npm run bench:calibrate",
    );
  }
  const rates = engine === 'cpu' ? cal.lambdaCpu! : cal.wasm;
  // A Lambda function has its vCPUs to itself, so more threads are never slower there: a lower
  // rate measured at more threads is the measuring machine's contention, and the best rate at
  // or below the function's threads is taken.
  const usable = rates.filter((r) => r.threads <= worker.threads);
  const best = usable.length
    ? usable.reduce((a, b) => (b.pairsPerSecond > a.pairsPerSecond ? b : a))
    : [...rates].sort((a, b) => a.threads - b.threads)[0];
  const measured = { pairsPerSecond: best.pairsPerSecond, at: best.threads };
  if (measured.at < worker.threads) {
    const atThreads = rates.find((r) => r.threads === worker.threads);
    notes.push(
      atThreads
        ? `Lambda's ${engine} rate is the ${measured.at}-thread one (${measured.pairsPerSecond} pairs/s): ${worker.threads} threads measured lower (${atThreads.pairsPerSecond}), the measuring machine's contention`
        : `Lambda's ${engine} rate is the ${measured.at}-thread one: ${worker.memoryMiB} MB gives ${worker.threads} threads, not measured (not extrapolated)`,
    );
  }
  // Below 1,769 MB a function has a fraction of a vCPU, and runs slower in proportion.
  const cpuShare = Math.min(1, worker.memoryMiB / ASSUMED.lambdaMbPerVcpu / worker.threads);
  const lambdaRate = measured.pairsPerSecond * cpuShare;
  const lambdaChunkSeconds = (n: number) => n / lambdaRate + ASSUMED.lambdaChunkOverheadSeconds;
  const containers = Math.min(worker.reservedConcurrency, chunks);
  const queueWork = waveSeconds(lines, settings.chunkSize, worker.reservedConcurrency, (n) => lambdaChunkSeconds(n));
  const workerBilledSeconds =
    lines / lambdaRate + chunks * ASSUMED.lambdaChunkOverheadSeconds + containers * ASSUMED.lambdaInitSeconds;
  const queueGbSeconds = (worker.memoryMiB / 1024) * workerBilledSeconds + ingestGbSeconds;
  const queueLambdaRequests = chunks + 1;
  const queueLambdaUsd = queueGbSeconds * lambdaGbPrice + queueLambdaRequests * requestPrice;
  const queueSqs = cal.protocol.sqsPerChunk * chunks;
  const queueS3 = s3For('queue');
  const queueSqsUsd = (queueSqs * prices.sqsPerMillionRequests) / 1e6;
  const queue: RouteEstimate = {
    route: 'queue',
    deployed: true,
    seconds: ingestSeconds + (chunks ? ASSUMED.lambdaInitSeconds : 0) + queueWork,
    lambda: { gbSeconds: queueGbSeconds, requests: queueLambdaRequests, usd: queueLambdaUsd },
    s3: queueS3,
    sqs: { requests: queueSqs, usd: queueSqsUsd },
    gpu: { instanceType: null, children: 0, instanceHours: 0, usd: 0 },
    usd: queueLambdaUsd + queueS3.usd + queueSqsUsd,
    basis: `${containers} worker(s) of ${worker.memoryMiB} MB at ${round(lambdaRate, 1)} pairs/s each (${engine}, ${worker.threads} thread(s)), ${Math.ceil(chunks / worker.reservedConcurrency)} wave(s) of chunks`,
  };

  // Batch: GPU children, each every N-th chunk, as many at once as maxVcpus holds.
  const { gpu } = settings;
  const children = batchChildren(chunks, settings);
  const secondsPerChunk = gpu.secondsPerPair * settings.chunkSize;
  const chunksPerChild = children ? Math.ceil(chunks / children) : 0;
  const concurrent = Math.max(1, Math.floor(gpu.maxVcpus / gpu.containerVcpus));
  const instances = Math.min(children, concurrent);
  const childSeconds = ASSUMED.batchChildStartSeconds + chunksPerChild * secondsPerChunk;
  const instanceSeconds = children * childSeconds + instances * ASSUMED.batchInstanceStartSeconds;
  const instanceType = gpu.instanceTypes[0] ?? null;
  const hourPrice = instanceType ? prices.instanceHour[instanceType] : undefined;
  if (instanceType && hourPrice === undefined) {
    notes.push(`no price for ${instanceType}: its GPU hours are priced at 0 (add it with --prices)`);
  }
  const gpuUsd = (instanceSeconds / 3600) * (hourPrice ?? 0);
  const batchLambdaUsd = ingestGbSeconds * lambdaGbPrice + requestPrice;
  const batchS3 = s3For('batch');
  const batch: RouteEstimate = {
    route: 'batch',
    deployed: gpu.enabled,
    seconds:
      ingestSeconds +
      (children ? ASSUMED.batchInstanceStartSeconds + Math.ceil(children / concurrent) * childSeconds : 0),
    lambda: { gbSeconds: ingestGbSeconds, requests: 1, usd: batchLambdaUsd },
    s3: batchS3,
    sqs: { requests: 0, usd: 0 },
    gpu: { instanceType, children, instanceHours: instanceSeconds / 3600, usd: gpuUsd },
    usd: batchLambdaUsd + batchS3.usd + gpuUsd,
    basis: `${children} child(ren) of ${chunksPerChild} chunk(s) at gpu.secondsPerPair ${gpu.secondsPerPair} s (a setting, not measured), ${concurrent} at once on ${instanceType}`,
  };
  if (!gpu.enabled)
    notes.push('the batch route is not deployed (gpu.enabled is false): its figures are what it would be');

  // Local: this machine's pipeline, cpu engine, one thread per worker; S3 is the embedded server.
  // The pool's rate is the measured pipeline's, scaled by the engine's own rates for another
  // worker count. A chunk left to run alone keeps its worker's rate: how much faster it would
  // go with the engine to itself is not measured (the server's share does not shrink).
  const workers = input.localWorkers;
  const measuredPipeline = cal.local.pipeline;
  const engineTogether = (k: number) => measuredAt(cal.cpu, (r) => r.workers, k).pairsPerSecond;
  const poolRate =
    measuredPipeline.pairsPerSecond * (engineTogether(workers) / engineTogether(measuredPipeline.workers));
  const localChunkSeconds = (n: number) => n / (poolRate / workers);
  if (workers !== measuredPipeline.workers) {
    notes.push(
      `the local pipeline was measured with ${measuredPipeline.workers} workers; ${workers} are scaled by the engine's rates together`,
    );
  }
  const uploadSeconds = job.uploads / cal.local.uploadPairsPerSecond;
  const localS3 = s3For('local');
  const local: RouteEstimate = {
    route: 'local',
    deployed: true,
    seconds:
      uploadSeconds +
      ingestSeconds +
      (measuredPipeline.jobSeconds ?? 0) +
      waveSeconds(lines, settings.chunkSize, workers, localChunkSeconds),
    lambda: { gbSeconds: 0, requests: 0, usd: 0 },
    // The same requests, to a server on this machine: nobody bills them.
    s3: { ...localS3, usd: 0, outputPutsUsd: 0 },
    sqs: { requests: 0, usd: 0 },
    gpu: { instanceType: null, children: 0, instanceHours: 0, usd: 0 },
    usd: 0,
    basis: `${workers} local worker(s) at ${round(poolRate, 1)} pairs/s together (the local pipeline measured at ${round(measuredPipeline.pairsPerSecond, 1)} with ${measuredPipeline.workers}, cpu engine${measuredPipeline.jobSeconds === undefined ? '' : `, and ${round(measuredPipeline.jobSeconds, 1)} s a job`}), upload at ${round(cal.local.uploadPairsPerSecond, 1)} pairs/s`,
  };

  return {
    lines,
    chunks,
    route: picked.route,
    routeReason: picked.reason,
    maskFormat,
    routes: { queue, batch, local },
    notes,
  };
}

/** The array job's children for `chunks` chunks, as ingest sizes it (none for an empty job). */
function batchChildren(chunks: number, settings: EstimateSettings): number {
  if (!chunks) return 0;
  return batchShards(chunks, {
    secondsPerChunk: settings.gpu.secondsPerPair * settings.chunkSize,
    timeoutSeconds: settings.gpu.timeoutSeconds,
  });
}

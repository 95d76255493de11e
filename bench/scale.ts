/**
 * `npm run bench:scale`: what a job costs as it grows, against the embedded S3 server over HTTP.
 *
 * 1. Completion: jobs of 100, 1,000 and 10,000 chunks, ingested and run chunk by chunk by the
 *    real ingest and runChunk (ten at a time, like the worker's concurrency). Chunks hold one
 *    invalid line each, so that no inference runs and every request counted is the protocol's:
 *    S3 requests per chunk by kind, keys listed per chunk, queue requests per chunk.
 * 2. `status` on the 10,000-chunk job, finished and with 1 % of its chunks left.
 * 3. Ingest of a 1,000,000-line manifest in a fresh process: time and peak RSS.
 * 4. The reference model's pairs/s on the Lambda worker's engine (--engine cpu|wasm, the
 *    deployment's default unless given; 2 threads, masks encoded), with
 *    masks as PNG objects and as COCO RLE in the records (their bytes, a record's bytes), and
 *    from them and the counts above, a cost table per 1,000,000 pairs by route and mask format,
 *    with mask storage's share (its PUTs and a month of its bytes).
 *
 *   npm run bench:scale [-- --chunks 100,1000,10000 --lines 1000000 --chunk-size 100]
 *   npm run bench:scale -- --cost-only [--engine wasm]   (4 alone, with the completion counts of the last full run)
 *
 * Writes bench-results/scale.json. The report at 100,000 pairs is `npm run bench:report-scale`.
 */
import { spawn } from 'node:child_process';

// The SDK's notice that Node 20 support ends: no news in a benchmark's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import S3rver from 's3rver';
import { listFolderPairs } from '../cli/adapters/local-files.js';
import { loadCalibration } from '../cli/estimate.js';
import { encodeDensePng, SharpImageDecoder } from '../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../lambdas/adapters/model-bundle.js';
import { createS3Client, S3ObjectStore } from '../lambdas/adapters/s3-store.js';
import { runChunk } from '../lambdas/core/bucket-pipeline.js';
import type { CocoRle } from '../lambdas/core/coco-rle.js';
import { type Calibration, DEFAULT_PRICES, estimateJob } from '../lambdas/core/estimate.js';
import { BoundedTasks, ingestJob } from '../lambdas/core/job-ingest.js';
import { readJobStatus } from '../lambdas/core/job-status.js';
import { ModelManifestSchema } from '../lambdas/core/manifest.js';
import type { MaskFormat } from '../lambdas/core/mask-format.js';
import { type RuntimeModel, runPipeline } from '../lambdas/core/pipeline.js';
import type { ChunkMessage, ObjectStore } from '../lambdas/core/ports.js';
import { resolvePipelineConfig } from '../lib/config.js';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    chunks: { type: 'string', default: '100,1000,10000' },
    lines: { type: 'string', default: '1000000' },
    'chunk-size': { type: 'string', default: '100' },
    child: { type: 'string' },
    /** Only measure the pair rate again and price a million pairs with the saved completion counts. */
    'cost-only': { type: 'boolean', default: false },
    /** The Lambda engine whose rate is measured and priced (default: the deployment's default). */
    engine: { type: 'string' },
    endpoint: { type: 'string' },
  },
});
const BUCKET = 'fusebatch';
// As `cdk -c fusebatch:lambdaEngine=...` takes it, checked by the configuration's schema.
const { lambdaEngine } = resolvePipelineConfig({}, values.engine ? { 'fusebatch:lambdaEngine': values.engine } : {});

async function startS3() {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-bench-scale-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [{ name: BUCKET, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    store: new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint }), BUCKET),
    close: async () => {
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

type Kind = 'get' | 'read' | 'put' | 'putIf' | 'exists' | 'list';
/** The store, counting requests as S3 bills them (a LIST page holds 1,000 keys). */
function counting(store: ObjectStore) {
  const calls: Record<Kind, number> = { get: 0, read: 0, put: 0, putIf: 0, exists: 0, list: 0 };
  let keysListed = 0;
  const counted = <T>(kind: Kind, request: () => Promise<T>) => {
    calls[kind]++;
    return request();
  };
  const wrapped: ObjectStore = {
    get: (k) => counted('get', () => store.get(k)),
    read: (k) => counted('read', () => store.read(k)),
    put: (k, b, t, m) => counted('put', () => store.put(k, b, t, m)),
    putIf: (k, b, c, t) => counted('putIf', () => store.putIf(k, b, c, t)),
    exists: (k) => counted('exists', () => store.exists(k)),
    list: async (p, options) => {
      const out = await store.list(p, options);
      calls.list += Math.max(1, Math.ceil(out.length / 1000));
      keysListed += out.length;
      return out;
    },
  };
  const snapshot = () => ({ ...calls, keysListed });
  const reset = () => {
    for (const k of Object.keys(calls) as Kind[]) calls[k] = 0;
    keysListed = 0;
  };
  return { store: wrapped, snapshot, reset };
}

const manifest = ModelManifestSchema.parse(
  JSON.parse(await readFile(path.join(root, 'models/reference/model.json'), 'utf8')),
);
/** The model's identity and inputs; its engine is never called (every line is invalid). */
const model: RuntimeModel = {
  manifest,
  identity: { name: manifest.name, version: manifest.version, sha256: '0'.repeat(64) },
  engine: {
    name: 'wasm',
    inputs: [],
    outputs: [],
    run: () => Promise.reject(new Error('no inference in this benchmark')),
    close: async () => {},
  },
  batchLimit: 1,
};

const sqsRequests = (messages: number) => ({
  // SendMessageBatch carries 10; each chunk is received once and deleted once (batch size 1).
  send: Math.ceil(messages / 10),
  receiveAndDelete: 2 * messages,
});

async function completionRun(chunks: number) {
  const s3 = await startS3();
  try {
    const count = counting(s3.store);
    const job = `scale-${chunks}`;
    const lines = Array.from({ length: chunks }, (_, i) => JSON.stringify({ id: `p${i}` })).join('\n') + '\n';
    await s3.store.put(`jobs/${job}.jsonl`, lines);
    const messages: ChunkMessage[] = [];
    const deps = {
      store: count.store,
      model,
      queue: { send: async (m: readonly ChunkMessage[]) => void messages.push(...m) },
      batch: { submit: () => Promise.reject(new Error('queue route only')) },
      chunkSize: 1,
      batchThreshold: Number.POSITIVE_INFINITY,
    };
    let started = performance.now();
    await ingestJob({ kind: 'job-manifest', job, format: 'jsonl', key: `jobs/${job}.jsonl` }, deps);
    const ingestMs = performance.now() - started;
    const ingestRequests = count.snapshot();
    count.reset();
    const pipelineDeps = {
      store: count.store,
      model,
      images: { decode: () => Promise.reject(new Error('unused')) },
      masks: () => ({ save: async () => null }),
    };
    // All but 1 % of the chunks, then status in progress, then the rest.
    const cut = messages.length - Math.max(1, Math.floor(messages.length / 100));
    const run = async (batch: ChunkMessage[]) => {
      const tasks = new BoundedTasks(10);
      for (const m of batch) await tasks.add(async () => void (await runChunk(m, pipelineDeps)));
      await tasks.drain();
    };
    started = performance.now();
    await run(messages.slice(0, cut));
    const runMs1 = performance.now() - started;
    const chunkRequests1 = count.snapshot();
    count.reset();
    started = performance.now();
    const inProgress = await readJobStatus(count.store, job);
    const statusInProgress = { ms: performance.now() - started, ...count.snapshot(), state: inProgress.state };
    count.reset();
    started = performance.now();
    await run(messages.slice(cut));
    const runMs = runMs1 + performance.now() - started;
    const tail = count.snapshot();
    const work: Record<string, number> = {};
    for (const k of Object.keys(tail) as (keyof typeof tail)[]) work[k] = chunkRequests1[k] + tail[k];
    count.reset();
    started = performance.now();
    const finished = await readJobStatus(count.store, job);
    const statusFinished = { ms: performance.now() - started, ...count.snapshot(), state: finished.state };
    if (!finished.complete || finished.done !== chunks)
      throw new Error(`job ${job} did not complete: ${JSON.stringify(finished)}`);
    const perChunk = Object.fromEntries(Object.entries(work).map(([k, v]) => [k, +(v / chunks).toFixed(3)])) as Record<
      Kind | 'keysListed',
      number
    >;
    const s3PerChunk = (work.get + work.read + work.put + work.putIf + work.exists + work.list) / chunks;
    return {
      chunks,
      ingest: { ms: Math.round(ingestMs), ...ingestRequests },
      perChunk: { ...perChunk, s3Requests: +s3PerChunk.toFixed(3), ...sqsPer(messages.length, chunks) },
      chunksPerSecond: +(chunks / (runMs / 1000)).toFixed(1),
      statusInProgress,
      statusFinished,
    };
  } finally {
    await s3.close();
  }
}

const sqsPer = (messages: number, chunks: number) => {
  const sqs = sqsRequests(messages);
  return { sqsRequests: +((sqs.send + sqs.receiveAndDelete) / chunks).toFixed(3) };
};

/** The child: ingests one manifest from the endpoint and prints its time and peak RSS. */
async function ingestChild(endpoint: string, job: string, chunkSize: number) {
  const store = new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint }), BUCKET);
  let sent = 0;
  const started = performance.now();
  const outcome = await ingestJob(
    { kind: 'job-manifest', job, format: 'jsonl', key: `jobs/${job}.jsonl` },
    {
      store,
      model,
      queue: {
        send: async (m) => {
          sent += m.length;
        },
      },
      batch: { submit: () => Promise.reject(new Error('queue route only')) },
      chunkSize,
      batchThreshold: Number.POSITIVE_INFINITY,
    },
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ outcome, sent, seconds, peakRssMB: process.resourceUsage().maxRSS / 1024 }));
}

async function ingestRun(lines: number, chunkSize: number) {
  const s3 = await startS3();
  try {
    const job = 'million';
    // Lines like a real manifest's: an id, an image key, a caption, an extra field.
    const captions = ['a red circle on the left', 'two blue squares', 'a small green triangle at the top'];
    const parts: string[] = [];
    for (let i = 0; i < lines; i++) {
      parts.push(
        JSON.stringify({
          id: `img/${String(i).padStart(7, '0')}`,
          image: `uploads/img/${i % 300}.png`,
          text: captions[i % 3],
          camera: i % 7,
        }),
      );
    }
    const body = parts.join('\n') + '\n';
    parts.length = 0;
    await s3.store.put(`jobs/${job}.jsonl`, body);
    const bytes = Buffer.byteLength(body);
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          import.meta.filename,
          '--child',
          job,
          '--endpoint',
          s3.endpoint,
          '--chunk-size',
          String(chunkSize),
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let stdout = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.on('exit', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`ingest child exited ${code}`))));
    });
    return { lines, manifestMB: +(bytes / 1e6).toFixed(1), chunkSize, ...JSON.parse(out.trim().split('\n').at(-1)!) };
  } finally {
    await s3.close();
  }
}

/** What the reference model's pairs cost on the worker's engine, with masks kept one way. */
interface PairRate {
  readonly maskFormat: MaskFormat;
  readonly pairsPerSecond: number;
  /** PNG objects written a pair: a PUT each. */
  readonly pngObjectsPerPair: number;
  readonly pngBytesPerPair: number;
  /** A record's JSON line, with the RLEs it carries. */
  readonly recordBytesPerPair: number;
  /** Mean JSON bytes of each task's RLE field (`"rle":{…}`) a pair, for the formats that carry one. */
  readonly rleBytesPerPair: Record<string, number>;
  /** Mean length of a `counts` string, per task (a class map's counts are summed over its classes). */
  readonly rleCountsCharsPerPair: Record<string, number>;
}

/**
 * Pairs a second of the worker's engine on the reference model, end to end in memory (dense
 * outputs encoded as the format says), with the bytes each format writes; the formats run in
 * turn, three rounds each, and the median round counts.
 */
async function pairRates(formats: readonly MaskFormat[]): Promise<PairRate[]> {
  const engineModel = await loadModelBundle(path.join(root, 'models/reference'), {
    engine: lambdaEngine,
    threads: 2,
    inWorkerThread: true,
  });
  try {
    const pairs = await listFolderPairs(path.join(root, 'models/reference/fixtures/eval/pairs'));
    const rates = new Map(formats.map((f) => [f, [] as number[]]));
    const sizes = new Map<MaskFormat, Omit<PairRate, 'maskFormat' | 'pairsPerSecond'>>();
    for (let round = 0; round < 3; round++) {
      for (const maskFormat of formats) {
        let pngObjects = 0;
        let pngBytes = 0;
        let recordBytes = 0;
        const rleBytes: Record<string, number> = {};
        const rleChars: Record<string, number> = {};
        const masks = {
          save: async (_id: string, _task: string, image: Parameters<typeof encodeDensePng>[0]) => {
            pngBytes += encodeDensePng(image).length;
            pngObjects++;
            return null;
          },
        };
        const started = performance.now();
        const records = runPipeline(pairs, { model: engineModel, images: new SharpImageDecoder(), masks, maskFormat });
        for await (const record of records) {
          recordBytes += Buffer.byteLength(JSON.stringify(record)) + 1;
          if (record.status !== 'ok') continue;
          for (const [task, result] of Object.entries(record.tasks)) {
            const rle = (result as { rle?: CocoRle | Record<string, CocoRle> }).rle;
            if (!rle) continue;
            rleBytes[task] = (rleBytes[task] ?? 0) + Buffer.byteLength(`"rle":${JSON.stringify(rle)},`);
            const all = 'counts' in rle ? [rle as CocoRle] : Object.values(rle as Record<string, CocoRle>);
            rleChars[task] = (rleChars[task] ?? 0) + all.reduce((n, r) => n + r.counts.length, 0);
          }
        }
        rates.get(maskFormat)!.push(pairs.length / ((performance.now() - started) / 1000));
        const per = (x: number) => +(x / pairs.length).toFixed(1);
        const perTask = (o: Record<string, number>) =>
          Object.fromEntries(Object.entries(o).map(([k, v]) => [k, per(v)]));
        sizes.set(maskFormat, {
          pngObjectsPerPair: pngObjects / pairs.length,
          pngBytesPerPair: per(pngBytes),
          recordBytesPerPair: per(recordBytes),
          rleBytesPerPair: perTask(rleBytes),
          rleCountsCharsPerPair: perTask(rleChars),
        });
      }
    }
    return formats.map((maskFormat) => ({
      maskFormat,
      pairsPerSecond: rates.get(maskFormat)!.sort((a, b) => a - b)[1],
      ...sizes.get(maskFormat)!,
    }));
  } finally {
    await engineModel.engine.close();
  }
}

/** S3 Standard storage, first 50 TB, per GB-month (us-east-1): what a month of mask bytes costs. */
const S3_GB_MONTH_USD = 0.023;

/** The bundle's calibration, over which each run's measured counts and rates are priced. */
const bundleCalibration = (await loadCalibration(path.join(root, 'models/reference'))).calibration;

/**
 * Per 1,000,000 pairs by route, priced by the estimate's cost model (lambdas/core/estimate.ts,
 * the one `fusebatch estimate` uses) with this run's counts, the format's rate and its PNG
 * objects a pair; mask storage (a month of their bytes) is this bench's own addition.
 */
function costTable(perChunk: Record<string, number>, rate: PairRate, chunkSize: number) {
  const pairs = 1e6;
  const chunks = pairs / chunkSize;
  const calibration: Calibration = {
    ...bundleCalibration,
    // The format's PNG objects, measured: all of them PUTs (mask mode png below).
    outputs: { densePerPair: rate.pngObjectsPerPair, masksPerPair: 0 },
    // The measured engine's rate where the estimate looks for the deployed engine's.
    ...(lambdaEngine === 'wasm'
      ? { wasm: [{ threads: 2, pairsPerSecond: rate.pairsPerSecond }] }
      : { lambdaCpu: [{ threads: 2, pairsPerSecond: rate.pairsPerSecond }] }),
    protocol: {
      // HEAD and streamed reads are GETs; ingest writes each chunk's object.
      s3PerChunk: {
        get: perChunk.get + perChunk.read + perChunk.exists,
        put: perChunk.put + perChunk.putIf + 1,
        list: perChunk.list,
      },
      s3PerJob: bundleCalibration.protocol.s3PerJob,
      sqsPerChunk: perChunk.sqsRequests,
    },
  };
  const { queue, batch } = estimateJob({
    job: { lines: pairs, images: pairs, uploads: 0 },
    // The functions are priced on the engine whose rate this bench measured (above).
    settings: resolvePipelineConfig({ chunkSize, lambdaEngine }, {}),
    calibration,
    prices: DEFAULT_PRICES,
    maskFormat: 'png',
    localWorkers: 2,
  }).routes;
  const putPrice = DEFAULT_PRICES.s3PutListPerThousand / 1000;
  const getPrice = DEFAULT_PRICES.s3GetHeadPerThousand / 1000;
  // Completion alone: the marker PUT and group LISTs (and the self-check LIST and stop HEAD).
  const completion = ((perChunk.put - 2 + perChunk.list) * putPrice + perChunk.exists * getPrice) * chunks;
  // Mask storage: the PNG objects' PUTs, and a month of the bytes masks take (PNG objects, or
  // the RLE fields in the records).
  const rleBytes = Object.values(rate.rleBytesPerPair).reduce((a, b) => a + b, 0);
  const maskGb = (pairs * (rate.pngBytesPerPair + rleBytes)) / 1e9;
  const maskPutUsd = queue.s3.outputPutsUsd;
  const maskUsd = maskPutUsd + maskGb * S3_GB_MONTH_USD;
  const s3Requests = (r: typeof queue) => Math.round(r.s3.total.get + r.s3.total.put + r.s3.total.list);
  return {
    assumptions: {
      pairs,
      chunkSize,
      workerMemoryMb: 3538,
      maskFormat: rate.maskFormat,
      pairsPerSecond: +rate.pairsPerSecond.toFixed(1),
      pngObjectsPerPair: rate.pngObjectsPerPair,
      gpuSecondsPerPair: 0.05,
      prices: DEFAULT_PRICES.source,
    },
    lambdaRoute: {
      seconds: Math.round(queue.seconds),
      lambdaGbSeconds: Math.round(queue.lambda.gbSeconds),
      lambdaUsd: +queue.lambda.usd.toFixed(2),
      s3Requests: s3Requests(queue),
      s3Usd: +queue.s3.usd.toFixed(2),
      sqsRequests: Math.round(queue.sqs.requests),
      sqsUsd: +queue.sqs.usd.toFixed(4),
      completionUsd: +completion.toFixed(3),
      totalUsd: +queue.usd.toFixed(2),
    },
    batchRoute: {
      seconds: Math.round(batch.seconds),
      gpuHours: +batch.gpu.instanceHours.toFixed(1),
      gpuUsd: +batch.gpu.usd.toFixed(2),
      s3Usd: +batch.s3.usd.toFixed(2),
      completionUsd: +completion.toFixed(3),
      totalUsd: +batch.usd.toFixed(2),
    },
    maskStorage: {
      puts: Math.round(pairs * rate.pngObjectsPerPair),
      putUsd: +maskPutUsd.toFixed(2),
      gb: +maskGb.toFixed(3),
      storageUsdPerMonth: +(maskGb * S3_GB_MONTH_USD).toFixed(4),
      recordGb: +((pairs * rate.recordBytesPerPair) / 1e9).toFixed(3),
      /** The PUTs and a month of mask bytes, as a share of the Lambda route's total. */
      shareOfLambdaTotal: +(maskUsd / (queue.usd + maskGb * S3_GB_MONTH_USD)).toFixed(3),
    },
  };
}

/** The masks formats compared: PNG objects (before) and RLE in the records (after). */
const COMPARED: readonly MaskFormat[] = ['png', 'rle'];

function printCosts(rates: readonly PairRate[], costs: readonly ReturnType<typeof costTable>[]) {
  for (const [i, rate] of rates.entries()) {
    const c = costs[i];
    console.log(
      `masks ${rate.maskFormat}: ${rate.pairsPerSecond.toFixed(1)} pairs/s (${lambdaEngine}, 2 threads), ` +
        `${rate.pngObjectsPerPair} PNG objects a pair (${rate.pngBytesPerPair} B), record ${rate.recordBytesPerPair} B a pair` +
        (Object.keys(rate.rleBytesPerPair).length
          ? `, RLE field bytes a pair ${JSON.stringify(rate.rleBytesPerPair)} (counts chars ${JSON.stringify(rate.rleCountsCharsPerPair)})`
          : ''),
    );
    console.log(
      `  per 1,000,000 pairs, Lambda route: $${c.lambdaRoute.totalUsd} (S3 requests ${c.lambdaRoute.s3Requests}: $${c.lambdaRoute.s3Usd}); ` +
        `Batch route: $${c.batchRoute.totalUsd}; mask storage: ${c.maskStorage.puts} PUTs $${c.maskStorage.putUsd} + ` +
        `${c.maskStorage.gb} GB ($${c.maskStorage.storageUsdPerMonth} a month), ${(100 * c.maskStorage.shareOfLambdaTotal).toFixed(1)} % of the Lambda route`,
    );
  }
}

if (values.child) {
  await ingestChild(values.endpoint!, values.child, Number(values['chunk-size']));
} else if (values['cost-only']) {
  const saved = JSON.parse(await readFile(path.join(root, 'bench-results/scale.json'), 'utf8'));
  const rates = await pairRates(COMPARED);
  const costs = rates.map((rate) => costTable(saved.completion.at(-1).perChunk, rate, Number(values['chunk-size'])));
  printCosts(rates, costs);
  await writeFile(
    path.join(root, 'bench-results/scale.json'),
    // Without the single rate and cost that runs before the mask formats wrote.
    JSON.stringify({ completion: saved.completion, ingest: saved.ingest, rates, costs }, null, 2) + '\n',
  );
} else {
  const results = [];
  for (const chunks of values.chunks.split(',').map(Number)) {
    const result = await completionRun(chunks);
    results.push(result);
    console.log(
      `completion, ${chunks} chunks: per chunk ${result.perChunk.s3Requests} S3 requests ` +
        `(GET ${result.perChunk.get}, PUT ${result.perChunk.put}, HEAD ${result.perChunk.exists}, LIST ${result.perChunk.list}, conditional PUT ${result.perChunk.putIf}), ` +
        `${result.perChunk.keysListed} keys listed, ${result.perChunk.sqsRequests} SQS requests; ${result.chunksPerSecond} chunks/s; ` +
        `status: in progress ${result.statusInProgress.list} LIST + ${result.statusInProgress.get} GET in ${result.statusInProgress.ms.toFixed(0)} ms, ` +
        `finished ${result.statusFinished.list} LIST + ${result.statusFinished.get} GET in ${result.statusFinished.ms.toFixed(0)} ms`,
    );
  }
  const ingest = await ingestRun(Number(values.lines), Number(values['chunk-size']));
  console.log(
    `ingest of ${ingest.lines} lines (${ingest.manifestMB} MB) into ${ingest.outcome.chunks} chunks: ${ingest.seconds.toFixed(1)} s, peak RSS ${ingest.peakRssMB.toFixed(0)} MB`,
  );
  const rates = await pairRates(COMPARED);
  const perChunk = results.at(-1)!.perChunk;
  const costs = rates.map((rate) => costTable(perChunk, rate, Number(values['chunk-size'])));
  printCosts(rates, costs);
  await mkdir(path.join(root, 'bench-results'), { recursive: true });
  await writeFile(
    path.join(root, 'bench-results/scale.json'),
    JSON.stringify({ completion: results, ingest, rates, costs }, null, 2) + '\n',
  );
}

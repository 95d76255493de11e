/**
 * `npm run bench:scale`: what a job costs as it grows, against the embedded S3 server over HTTP.
 *
 * 1. Completion: jobs of 100, 1,000 and 10,000 chunks, ingested and run chunk by chunk by the
 *    real ingest and runChunk (ten at a time, like the worker's concurrency). Chunks hold one
 *    invalid line each, so that no inference runs and every request counted is the protocol's:
 *    S3 requests per chunk by kind, keys listed per chunk, queue requests per chunk.
 * 2. `status` on the 10,000-chunk job, finished and with 1 % of its chunks left.
 * 3. Ingest of a 1,000,000-line manifest in a fresh process: time and peak RSS.
 * 4. The reference model's pairs/s on the worker's engine (wasm, 2 threads, masks encoded), and
 *    from it and the counts above, a cost table per 1,000,000 pairs by route.
 *
 *   npm run bench:scale [-- --chunks 100,1000,10000 --lines 1000000 --chunk-size 100]
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
import { encodeDensePng, SharpImageDecoder } from '../lambdas/adapters/image-codec.js';
import { listFolderPairs } from '../lambdas/adapters/local-files.js';
import { loadModelBundle } from '../lambdas/adapters/model-bundle.js';
import { createS3Client, S3ObjectStore } from '../lambdas/adapters/s3-store.js';
import { loadCalibration } from '../lambdas/cli/estimate.js';
import { runChunk } from '../lambdas/core/bucket-pipeline.js';
import { type Calibration, DEFAULT_PRICES, estimateJob } from '../lambdas/core/estimate.js';
import { BoundedTasks, ingestJob } from '../lambdas/core/job-ingest.js';
import { readJobStatus } from '../lambdas/core/job-status.js';
import { ModelManifestSchema } from '../lambdas/core/manifest.js';
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
    endpoint: { type: 'string' },
  },
});
const BUCKET = 'fusebatch';

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

/** Pairs a second of the worker's engine on the reference model, end to end in memory (dense outputs encoded). */
async function pairRate(): Promise<{ pairsPerSecond: number; denseOutputsPerPair: number }> {
  const engineModel = await loadModelBundle(path.join(root, 'models/reference'), {
    engine: 'wasm',
    threads: 2,
    inWorkerThread: true,
  });
  try {
    const pairs = await listFolderPairs(path.join(root, 'models/reference/fixtures/eval/pairs'));
    let dense = 0;
    const masks = {
      save: async (_id: string, _task: string, image: Parameters<typeof encodeDensePng>[0]) => {
        encodeDensePng(image);
        dense++;
        return null;
      },
    };
    const rates = [];
    for (let round = 0; round < 3; round++) {
      dense = 0;
      const started = performance.now();
      for await (const _ of runPipeline(pairs, { model: engineModel, images: new SharpImageDecoder(), masks })) {
        // drained: every record made
      }
      rates.push(pairs.length / ((performance.now() - started) / 1000));
    }
    return { pairsPerSecond: rates.sort((a, b) => a - b)[1], denseOutputsPerPair: dense / pairs.length };
  } finally {
    await engineModel.engine.close();
  }
}

/**
 * Per 1,000,000 pairs by route, priced by the estimate's cost model (lambdas/core/estimate.ts,
 * the one `fusebatch estimate` uses) with this run's counts and rate over the bundle's calibration.
 */
async function costTable(
  perChunk: Record<string, number>,
  ingestCounts: Record<string, number>,
  rate: { pairsPerSecond: number; denseOutputsPerPair: number },
  chunkSize: number,
) {
  const pairs = 1e6;
  const { calibration } = await loadCalibration(path.join(root, 'models/reference'));
  const chunks = Math.ceil(pairs / chunkSize);
  const measured: Calibration = {
    ...calibration,
    outputs: { ...calibration.outputs, densePerPair: rate.denseOutputsPerPair },
    wasm: [{ threads: 2, pairsPerSecond: rate.pairsPerSecond }],
    protocol: {
      // HEAD and streamed reads are GETs; ingest writes each chunk's object.
      s3PerChunk: {
        get: perChunk.get + perChunk.read + perChunk.exists,
        put: perChunk.put + perChunk.putIf + 1,
        list: perChunk.list,
      },
      s3PerJob: {
        get: ingestCounts.get + ingestCounts.read + ingestCounts.exists,
        put: Math.max(0, ingestCounts.put + ingestCounts.putIf - chunks),
        list: ingestCounts.list,
      },
      sqsPerChunk: perChunk.sqsRequests,
    },
  };
  const estimate = estimateJob({
    job: { lines: pairs, images: pairs, uploads: 0 },
    settings: resolvePipelineConfig({ chunkSize }, {}),
    calibration: measured,
    prices: DEFAULT_PRICES,
    maskMode: 'png',
    localWorkers: 2,
  });
  const { queue, batch } = estimate.routes;
  // Completion alone (the marker PUT, group LISTs, the stop HEAD), as the table's column has it.
  const completionUsd =
    (((perChunk.put - 2 + perChunk.list) * DEFAULT_PRICES.s3PutListPerThousand +
      perChunk.exists * DEFAULT_PRICES.s3GetHeadPerThousand) /
      1000) *
    chunks;
  const s3Requests = (r: typeof queue) => Math.round(r.s3.total.get + r.s3.total.put + r.s3.total.list);
  return {
    assumptions: {
      pairs,
      chunkSize,
      workerMemoryMb: 3538,
      pairsPerSecond: +rate.pairsPerSecond.toFixed(1),
      denseOutputsPerPair: rate.denseOutputsPerPair,
      prices: DEFAULT_PRICES.source,
    },
    lambdaRoute: {
      seconds: Math.round(queue.seconds),
      lambdaGbSeconds: Math.round(queue.lambda.gbSeconds),
      lambdaUsd: +queue.lambda.usd.toFixed(2),
      s3Requests: s3Requests(queue),
      s3Usd: +queue.s3.usd.toFixed(2),
      outputPutsUsd: +queue.s3.outputPutsUsd.toFixed(2),
      completionUsd: +completionUsd.toFixed(3),
      sqsRequests: Math.round(queue.sqs.requests),
      sqsUsd: +queue.sqs.usd.toFixed(4),
      totalUsd: +queue.usd.toFixed(2),
    },
    batchRoute: {
      seconds: Math.round(batch.seconds),
      gpuHours: +batch.gpu.instanceHours.toFixed(1),
      gpuUsd: +batch.gpu.usd.toFixed(2),
      s3Requests: s3Requests(batch),
      s3Usd: +batch.s3.usd.toFixed(2),
      completionUsd: +completionUsd.toFixed(3),
      totalUsd: +batch.usd.toFixed(2),
    },
  };
}

if (values.child) {
  await ingestChild(values.endpoint!, values.child, Number(values['chunk-size']));
} else if (values['cost-only']) {
  const saved = JSON.parse(await readFile(path.join(root, 'bench-results/scale.json'), 'utf8'));
  const rate = await pairRate();
  const last = saved.completion.at(-1);
  const cost = await costTable(last.perChunk, last.ingest, rate, Number(values['chunk-size']));
  console.log(`reference model, wasm 2 threads: ${rate.pairsPerSecond.toFixed(1)} pairs/s`);
  console.log('per 1,000,000 pairs:', JSON.stringify(cost, null, 2));
  await writeFile(
    path.join(root, 'bench-results/scale.json'),
    JSON.stringify({ ...saved, rate, cost }, null, 2) + '\n',
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
  const rate = await pairRate();
  const cost = await costTable(results.at(-1)!.perChunk, results.at(-1)!.ingest, rate, Number(values['chunk-size']));
  console.log(
    `reference model, wasm 2 threads: ${rate.pairsPerSecond.toFixed(1)} pairs/s, ${rate.denseOutputsPerPair} dense outputs a pair`,
  );
  console.log('per 1,000,000 pairs:', JSON.stringify(cost, null, 2));
  await mkdir(path.join(root, 'bench-results'), { recursive: true });
  await writeFile(
    path.join(root, 'bench-results/scale.json'),
    JSON.stringify({ completion: results, ingest, rate, cost }, null, 2) + '\n',
  );
}

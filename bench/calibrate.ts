/**
 * `npm run bench:calibrate`: measures what `fusebatch estimate` needs for one model bundle on
 * this machine, and writes it to `<bundle>/calibration.json` (CalibrationSchema):
 *
 * 1. dense outputs a pair, and how many are segmentation masks;
 * 2. pairs/s of each Lambda engine (lambdaEngine `wasm`, and `cpu` as `lambdaCpu`) by threads,
 *    on as many CPUs (taskset: Lambda gives a vCPU per 1,769 MB), end to end in memory (decode,
 *    inference, PNGs encoded; the engine in its worker thread, as the Lambda worker runs it),
 *    median of 3 rounds over the evaluation pairs;
 * 3. pairs/s of the cpu engine shared by N pipelines at once (as the local pipeline's workers
 *    share one engine), by N;
 * 4. the protocol's requests, by counting every S3 call of two real jobs through the local
 *    pipeline (150 and 30 chunks): the difference gives the requests a chunk, the rest the
 *    requests a job; the pairs' own (image GET, output PUTs) are taken out first;
 * 5. ingest's lines a second (a 50,000-line manifest against the embedded server);
 * 6. the local server's round trip, submit's upload rate, and the whole local pipeline's pairs/s
 *    and seconds a job (2 workers, chunks of 50), fitted through a 100-pair and a 600-pair job.
 *
 *   npm run bench:calibrate [-- --model models/reference --pairs models/reference/fixtures/eval/pairs --out FILE]
 *
 * About 2 minutes on 2 cores. The file names the machine: rates are this machine's.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listFolderPairs } from '../cli/adapters/local-files.js';
import { submitFolder, waitForJob } from '../cli/bucket-commands.js';
import { encodeDensePng, SharpImageDecoder } from '../lambdas/adapters/image-codec.js';
import { loadModelBundle, readManifest } from '../lambdas/adapters/model-bundle.js';
import { createS3Client, S3ObjectStore } from '../lambdas/adapters/s3-store.js';
import { type Calibration, CalibrationSchema, type RequestCounts } from '../lambdas/core/estimate.js';
import { ingestJob } from '../lambdas/core/job-ingest.js';
import { type MaskStore, runPipeline } from '../lambdas/core/pipeline.js';
import type { ChunkQueue, ObjectStore } from '../lambdas/core/ports.js';
import type { EngineName } from '../lambdas/core/tensor.js';
import { startLocalPipeline } from '../local/local-pipeline.js';
import { measureLocalRate } from '../local/measure.js';
import { cycledPairFolder } from './pair-folder.js';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    model: { type: 'string', default: path.join(root, 'models/reference') },
    pairs: { type: 'string', default: path.join(root, 'models/reference/fixtures/eval/pairs') },
    out: { type: 'string' },
    note: { type: 'string' },
  },
});
const modelDir = path.resolve(values.model);
const pairsDir = path.resolve(values.pairs);
const outFile = values.out ?? path.join(modelDir, 'calibration.json');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;
const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-calibrate-'));

const manifest = await readManifest(modelDir);
const onnx = await readFile(path.join(modelDir, manifest.model));
const identity = {
  name: manifest.name,
  version: manifest.version,
  sha256: createHash('sha256').update(onnx).digest('hex'),
};
// What `rle` keeps inline: masks and class maps (value maps stay PNGs).
const maskTasks = new Set(
  manifest.tasks.filter((t) => t.kind === 'segmentation' || t.kind === 'semantic-segmentation').map((t) => t.name),
);
const pairs = await listFolderPairs(pairsDir);

/** A local pipeline as both measured runs use it: the cpu engine, a thread a worker, every job on the queue. */
const localRun = (folder: string, workers: number, chunkSize: number) => ({
  port: 0,
  dataDir: path.join(scratch, folder),
  workers,
  modelDir,
  engine: 'cpu' as const,
  threads: 1,
  chunkSize,
  batchThreshold: Number.MAX_SAFE_INTEGER,
  visibilityTimeoutMs: 60_000,
  maxReceiveCount: 3,
});

/** Pairs a second of `pipelines` runs of the pairs at once on one loaded engine, median of 3 rounds. */
async function engineRate(engine: EngineName, threads: number, pipelines: number) {
  const model = await loadModelBundle(modelDir, { engine, threads, inWorkerThread: true });
  let dense = 0;
  let masks = 0;
  const store: MaskStore = {
    save: async (_id, task, image) => {
      encodeDensePng(image); // the worker encodes every output: part of a pair's cost
      dense++;
      if (maskTasks.has(task)) masks++;
      return null;
    },
  };
  const drain = async () => {
    for await (const _ of runPipeline(pairs, {
      model,
      images: new SharpImageDecoder(),
      masks: store,
      maskFormat: 'png',
    })) {
      // every record made
    }
  };
  try {
    await drain(); // warm-up: WebAssembly compile, sharp's first decodes
    const rates: number[] = [];
    for (let round = 0; round < 3; round++) {
      dense = 0;
      masks = 0;
      const started = performance.now();
      await Promise.all(Array.from({ length: pipelines }, drain));
      rates.push((pipelines * pairs.length) / ((performance.now() - started) / 1000));
    }
    return {
      pairsPerSecond: round(median(rates)),
      densePerPair: dense / (pipelines * pairs.length),
      masksPerPair: masks / (pipelines * pairs.length),
    };
  } finally {
    await model.engine.close();
  }
}

type Counted = { get: number; put: number; list: number };
/** The store, counting requests as S3 bills them: HEAD with GET, conditional PUT with PUT, a LIST page per 1,000 keys. */
function counting(store: ObjectStore) {
  const counts: Counted = { get: 0, put: 0, list: 0 };
  const count = <T>(kind: keyof Counted, request: () => Promise<T>) => {
    counts[kind]++;
    return request();
  };
  const wrapped: ObjectStore = {
    get: (k, o) => count('get', () => store.get(k, o)),
    read: (k) => count('get', () => store.read(k)),
    put: (k, b, t, m) => count('put', () => store.put(k, b, t, m)),
    putIf: (k, b, c, t) => count('put', () => store.putIf(k, b, c, t)),
    exists: (k) => count('get', () => store.exists(k)),
    list: async (p, options) => {
      const out = await store.list(p, options);
      counts.list += Math.max(1, Math.ceil(out.length / 1000));
      return out;
    },
  };
  return { wrapped, counts };
}

/** A folder of `n` pairs: hard links to the source pairs, cycled. */
async function pairFolder(name: string, n: number): Promise<string> {
  const dir = path.join(scratch, name);
  await cycledPairFolder(pairsDir, dir, n, { prefix: 'c' });
  return dir;
}

/** Two real jobs through the local pipeline, every S3 request counted; the local round trip. */
async function protocolAndLocal(densePerPair: number) {
  const chunkSize = 2;
  let real: ObjectStore | undefined;
  let counter = { counts: { get: 0, put: 0, list: 0 } as Counted, wrapped: undefined as unknown as ObjectStore };
  let sends = 0;
  let messages = 0;
  const pipeline = await startLocalPipeline({
    ...localRun('s3', 2, chunkSize),
    logLevel: 'SILENT',
    maskFormat: 'png', // every dense output a PUT, subtracted below as the pairs' own
    // Forwards to whichever counter is current, so that each job is counted apart.
    wrapStore: (store) => {
      real = store;
      counter = counting(store);
      return {
        get: (k, o) => counter.wrapped.get(k, o),
        read: (k) => counter.wrapped.read(k),
        put: (k, b, t, m) => counter.wrapped.put(k, b, t, m),
        putIf: (k, b, c, t) => counter.wrapped.putIf(k, b, c, t),
        exists: (k) => counter.wrapped.exists(k),
        list: (p, o) => counter.wrapped.list(p, o),
      };
    },
    wrapChunkQueue: (queue: ChunkQueue): ChunkQueue => ({
      send: async (batch) => {
        sends += Math.ceil(batch.length / 10); // SendMessageBatch holds 10
        messages += batch.length;
        return queue.send(batch);
      },
    }),
  });
  const raw = new S3ObjectStore(
    createS3Client({ bucket: pipeline.bucket, endpoint: pipeline.endpoint }),
    pipeline.bucket,
  );
  try {
    // The local round trip: small PUTs and GETs one at a time, before any job runs.
    const trips = 200;
    const started = performance.now();
    for (let i = 0; i < trips / 2; i++) {
      await raw.put(`calibration/probe-${i}`, 'x'.repeat(1024));
      await raw.get(`calibration/probe-${i}`);
    }
    const requestMs = (performance.now() - started) / trips;

    const runJob = async (folder: string, n: number) => {
      const fresh = counting(real!);
      counter = fresh;
      sends = 0;
      messages = 0;
      const { job } = await submitFolder(raw, folder, { progress: false, job: path.basename(folder) });
      await waitForJob(raw, job, { progress: false, timeoutMs: 600_000, intervalMs: 100 });
      await pipeline.idle();
      const chunks = Math.ceil(n / chunkSize);
      // The pairs' own: one image GET, one PUT per dense output.
      const protocol: Counted = {
        get: fresh.counts.get - n,
        put: fresh.counts.put - n * densePerPair,
        list: fresh.counts.list,
      };
      return { chunks, protocol, sqs: sends + 2 * messages };
    };
    const big = await runJob(await pairFolder('job-a', 300), 300);
    const small = await runJob(await pairFolder('job-b', 60), 60);
    const per = (k: keyof Counted) => (big.protocol[k] - small.protocol[k]) / (big.chunks - small.chunks);
    const s3PerChunk: RequestCounts = {
      get: round(per('get'), 3),
      put: round(per('put'), 3),
      list: round(per('list'), 3),
    };
    const s3PerJob: RequestCounts = {
      get: round(Math.max(0, big.protocol.get - s3PerChunk.get * big.chunks), 1),
      put: round(Math.max(0, big.protocol.put - s3PerChunk.put * big.chunks), 1),
      list: round(Math.max(0, big.protocol.list - s3PerChunk.list * big.chunks), 1),
    };
    return {
      protocol: { s3PerChunk, s3PerJob, sqsPerChunk: round((big.sqs - small.sqs) / (big.chunks - small.chunks), 3) },
      local: { requestMs: round(requestMs, 2) },
      raw: { big, small },
    };
  } finally {
    await pipeline.close();
  }
}

/**
 * A job's pairs a second through the whole local pipeline (2 workers, the cpu engine), from its
 * manifest's upload to its completion: what the engine's rate alone misses on a few cores is
 * the embedded server's work. Chunks of 50, in full waves (12 chunks on 2 workers).
 */
async function pipelineRate(workers: number, chunkSize: number, pairs: number) {
  const measured = await measureLocalRate(
    { small: await pairFolder('job-small', workers * chunkSize), large: await pairFolder('job-rate', pairs) },
    { modelDir, workers, chunkSize, dataDir: path.join(scratch, 's3-rate') },
  );
  return {
    workers,
    chunkSize,
    pairsPerSecond: round(measured.pairsPerSecond),
    jobSeconds: round(measured.jobSeconds),
    uploadPairsPerSecond: round(measured.uploadPairsPerSecond, 1),
  };
}

/** Lines a second through ingest (read, check, chunk objects written) against the embedded server. */
async function ingestRate(lines: number): Promise<number> {
  const pipeline = await startLocalPipeline({
    port: 0,
    dataDir: path.join(scratch, 's3-ingest'),
    workers: 0,
    modelDir,
    engine: 'cpu',
    threads: 1,
    chunkSize: 100,
    batchThreshold: Number.MAX_SAFE_INTEGER,
    visibilityTimeoutMs: 60_000,
    maxReceiveCount: 3,
    logLevel: 'SILENT',
  });
  try {
    // Uploaded under a key no event ingests; ingestJob is then run here, timed alone.
    const body = Array.from({ length: lines }, (_, i) =>
      JSON.stringify({ id: `p${i}`, image: `uploads/img/${i % 300}.png`, text: 'a red circle on the left' }),
    ).join('\n');
    const store = new S3ObjectStore(
      createS3Client({ bucket: pipeline.bucket, endpoint: pipeline.endpoint }),
      pipeline.bucket,
    );
    await store.put('calibration/ingest.jsonl', body + '\n');
    const started = performance.now();
    await ingestJob(
      { kind: 'job-manifest', job: 'ingest-rate', format: 'jsonl', key: 'calibration/ingest.jsonl' },
      {
        store,
        model: pipeline.model,
        queue: { send: async () => {} },
        batch: { submit: () => Promise.reject(new Error('queue route only')) },
        chunkSize: 100,
        batchThreshold: Number.MAX_SAFE_INTEGER,
      },
    );
    return lines / ((performance.now() - started) / 1000);
  } finally {
    await pipeline.close();
  }
}

/**
 * Runs `measure` with this process (every thread, and the threads it starts) on the first
 * `cpus` CPUs, as a Lambda function has a vCPU per 1,769 MB: unpinned, a 1-thread engine would
 * decode on one core and infer on the other, and measure up to twice Lambda's rate. Without
 * taskset (util-linux) it measures unpinned, and says so.
 */
async function pinnedTo<T>(cpus: number, measure: () => Promise<T>): Promise<T> {
  const pin = (list: string) =>
    execFileSync('taskset', ['-a', '-p', '-c', list, String(process.pid)], { stdio: 'ignore' });
  try {
    pin(`0-${cpus - 1}`);
  } catch {
    console.warn(`taskset failed: measuring on every CPU, not ${cpus}`);
    return measure();
  }
  try {
    return await measure();
  } finally {
    pin(`0-${os.availableParallelism() - 1}`);
  }
}

const loadAtStart = os.loadavg()[0];
try {
  const wasm = [];
  let outputs = { densePerPair: 0, masksPerPair: 0 };
  for (const threads of [1, 2].filter((t) => t <= os.availableParallelism())) {
    const r = await pinnedTo(threads, () => engineRate('wasm', threads, 1));
    outputs = { densePerPair: r.densePerPair, masksPerPair: r.masksPerPair };
    wasm.push({ threads, pairsPerSecond: r.pairsPerSecond });
    console.log(`wasm, ${threads} thread(s): ${r.pairsPerSecond} pairs/s; ${r.densePerPair} dense outputs a pair`);
  }
  // The cpu engine as a Lambda function runs it: one pipeline, by threads, on as many CPUs, as wasm is.
  const lambdaCpu = [];
  for (const threads of [1, 2].filter((t) => t <= os.availableParallelism())) {
    const r = await pinnedTo(threads, () => engineRate('cpu', threads, 1));
    lambdaCpu.push({ threads, pairsPerSecond: r.pairsPerSecond });
    console.log(`cpu (Lambda), ${threads} thread(s): ${r.pairsPerSecond} pairs/s`);
  }
  const cpu = [];
  for (const workers of [1, 2]) {
    const r = await engineRate('cpu', 1, workers);
    cpu.push({ workers, pairsPerSecond: r.pairsPerSecond });
    console.log(`cpu, ${workers} pipeline(s) on one engine: ${r.pairsPerSecond} pairs/s together`);
  }
  const measured = await protocolAndLocal(outputs.densePerPair);
  console.log(`protocol: ${JSON.stringify(measured.protocol)}; local: ${JSON.stringify(measured.local)}`);
  // The upload's rate comes with the pipeline's: fitted through two sizes, its fixed part in jobSeconds.
  const { uploadPairsPerSecond, ...pipeline } = await pipelineRate(2, 50, 600);
  console.log(
    `local pipeline, ${pipeline.workers} workers: ${pipeline.pairsPerSecond} pairs/s, ${pipeline.jobSeconds} s a job, upload ${uploadPairsPerSecond} pairs/s`,
  );
  const ingestLinesPerSecond = round(await ingestRate(50_000), 0);
  console.log(`ingest: ${ingestLinesPerSecond} lines/s`);
  const calibration: Calibration = CalibrationSchema.parse({
    schemaVersion: 1,
    model: identity,
    measuredAt: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      memoryGiB: round(os.totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      // Rates on a shared machine follow its load: the one-minute load average before and after.
      loadAverage: [round(loadAtStart), round(os.loadavg()[0])],
      ...(values.note ? { note: values.note } : {}),
    },
    outputs,
    wasm,
    lambdaCpu,
    cpu,
    protocol: measured.protocol,
    ingestLinesPerSecond,
    local: { ...measured.local, uploadPairsPerSecond, pipeline },
  });
  await writeFile(outFile, JSON.stringify(calibration, null, 2) + '\n');
  console.log(`wrote ${path.relative(process.cwd(), outFile)}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}

/**
 * `npm run bench:pipeline`: a 5,000-pair job through the local S3 pipeline (embedded server,
 * ingest, queue, 2 workers) against `fusebatch infer` on the same pairs with the same engine,
 * medians of interleaved rounds. Writes bench-results/pipeline.json.
 *
 *   npm run bench:pipeline [-- --pairs 5000 --rounds 3 --engine wasm --workers 2]
 */
import { execFile } from 'node:child_process';
import { link, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { readJobStatus } from '../lambdas/core/job-status.js';
import type { EngineName } from '../lambdas/core/tensor.js';
import { startLocalPipeline } from '../local/local-pipeline.js';
import { cycledPairFolder } from './pair-folder.js';

const root = path.resolve(import.meta.dirname, '..');
const model = path.join(root, 'models/reference');
const source = path.join(model, 'fixtures/eval/pairs');
const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '3' },
    engine: { type: 'string', default: 'wasm' },
    workers: { type: 'string', default: '2' },
    chunk: { type: 'string', default: '64' },
  },
});
const total = Number(values.pairs);
const engine = values.engine as EngineName;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

// The same N pairs as a folder (hard links to the 300 evaluation pairs) and as a manifest.
const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-bench-pipeline-'));
const folder = path.join(scratch, 'pairs');
const linked = await cycledPairFolder(source, folder, total, { digits: 5 });
const images = [...new Set(linked.map((l) => l.image))];
const captions = new Map<string, string>();
for (const image of images) {
  captions.set(image, await readFile(path.join(source, `${image.slice(0, image.lastIndexOf('.'))}.txt`), 'utf8'));
}
const lines = linked.map(({ id, image }) =>
  JSON.stringify({ id, image: `uploads/${image}`, text: captions.get(image) }),
);

async function inferOnce(): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      path.join(root, 'bin/fusebatch.mjs'),
      'infer',
      '--model',
      model,
      '--input',
      folder,
      '--out',
      path.join(scratch, 'infer.jsonl'),
      '--engine',
      engine,
      '--threads',
      '1',
      // The pipeline writes every mask: so does infer, for the same work.
      '--masks',
      path.join(scratch, 'infer-masks'),
    ],
    { maxBuffer: 1 << 24 },
  );
  return Number(stdout.match(/([\d.]+) pairs\/s/)![1]);
}

async function pipelineOnce(round: number): Promise<{ pairsPerSecond: number; peakRssMb: number }> {
  const pipeline = await startLocalPipeline({
    port: 0,
    dataDir: path.join(scratch, `s3-${round}`),
    workers: Number(values.workers),
    modelDir: model,
    engine,
    threads: 1,
    chunkSize: Number(values.chunk),
    batchThreshold: Number.MAX_SAFE_INTEGER,
    visibilityTimeoutMs: 600_000,
    maxReceiveCount: 3,
    logLevel: 'ERROR',
  });
  try {
    for (const image of images) await pipeline.store.put(`uploads/${image}`, await readFile(path.join(source, image)));
    const manifest = lines.join('\n');
    const job = `bench-${round}`;
    const started = performance.now();
    await pipeline.store.put(`jobs/${job}.jsonl`, manifest);
    await pipeline.idle();
    const seconds = (performance.now() - started) / 1000;
    const status = await readJobStatus(pipeline.store, job);
    if (!status.complete || status.done !== total) throw new Error(`job incomplete: ${JSON.stringify(status)}`);
    return { pairsPerSecond: total / seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  } finally {
    await pipeline.close();
  }
}

const infer: number[] = [];
const piped: number[] = [];
let peak = 0;
for (let round = 1; round <= Number(values.rounds); round++) {
  process.stderr.write(`round ${round}\n`);
  infer.push(await inferOnce());
  const p = await pipelineOnce(round);
  piped.push(p.pairsPerSecond);
  peak = Math.max(peak, p.peakRssMb);
}
await rm(scratch, { recursive: true, force: true });
const report = {
  pairs: total,
  engine,
  workers: Number(values.workers),
  rounds: Number(values.rounds),
  inferPairsPerSecond: median(infer),
  pipelinePairsPerSecond: median(piped),
  ratio: median(piped) / median(infer),
  // The local pipeline is one process: the S3 server, ingest, the workers and the engine's thread.
  pipelineProcessPeakRssMb: peak,
  samples: { infer, pipeline: piped },
};
await mkdir(path.join(root, 'bench-results'), { recursive: true });
await writeFile(path.join(root, 'bench-results/pipeline.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));

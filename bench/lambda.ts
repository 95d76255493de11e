/**
 * `npm run bench:lambda`: the Lambda packages as the CDK app builds them. Their zipped size,
 * and their cold start: a fresh Node process imports the bundled handler (Lambda's init:
 * WebAssembly compile, model session) and handles its first event against the embedded S3
 * server. Medians over rounds. Writes bench-results/lambda.json.
 *
 *   npm run bench:lambda [-- --rounds 5]
 */
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { jobKeys, pairKeys } from '../lambdas/core/keys.js';
import { type HandlerRun, runHandlerInFreshProcess, s3Event, startEmbeddedS3 } from '../test/helpers/fresh-process.js';
import { synthesizeLambdaAssets, zippedSize } from '../test/helpers/lambda-assets.js';

const root = path.resolve(import.meta.dirname, '..');
const evalDir = path.join(root, 'models/reference/fixtures/eval');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

process.stderr.write('synthesizing the app (esbuild bundling)...\n');
const assets = synthesizeLambdaAssets(await mkdtemp(path.join(os.tmpdir(), 'fusebatch-bench-cdk-')));
const sizes = { ingest: zippedSize(assets.ingest), worker: zippedSize(assets.worker) };

const s3 = await startEmbeddedS3();
const env = {
  FUSEBATCH_BUCKET: s3.bucket,
  FUSEBATCH_S3_ENDPOINT: s3.endpoint,
  FUSEBATCH_THREADS: '1',
  FUSEBATCH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/unused',
  FUSEBATCH_CHUNK_SIZE: '100',
  FUSEBATCH_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/unused-dlq',
  FUSEBATCH_MAX_RECEIVE_COUNT: '3',
};
const truth = (await readFile(path.join(evalDir, 'truth.jsonl'), 'utf8'))
  .split('\n')
  .filter(Boolean)
  .slice(0, 100)
  .map((l) => JSON.parse(l) as { image: string; text: string });
// A 100-pair chunk for the worker: the status document and chunk lines as ingest writes them.
const job = 'bench-cold';
const lines = [];
for (const [i, t] of truth.entries()) {
  const image = `uploads/${job}/${i}.png`;
  await s3.store.put(image, await readFile(path.join(evalDir, t.image)));
  lines.push(JSON.stringify({ id: `p${i}`, image, text: t.text }));
}
await s3.store.put(jobKeys.chunk(job, 0), `${lines.join('\n')}\n`);
await s3.store.put(
  jobKeys.status(job),
  JSON.stringify({
    job,
    manifest: `jobs/${job}.jsonl`,
    route: 'queue',
    lines: 100,
    invalid: 0,
    chunkSizes: [100],
    createdAt: new Date().toISOString(),
  }),
);

const ingestRuns: HandlerRun[] = [];
const workerRuns: HandlerRun[] = [];
for (let round = 1; round <= rounds; round++) {
  process.stderr.write(`round ${round}/${rounds}\n`);
  const id = `cold/${round}`;
  await s3.store.put(pairKeys.image(id, 'png'), await readFile(path.join(evalDir, truth[round].image)));
  await s3.store.put(pairKeys.text(id), truth[round].text);
  ingestRuns.push(
    await runHandlerInFreshProcess(path.join(assets.ingest, 'index.mjs'), s3Event(s3.bucket, pairKeys.text(id)), env),
  );
  const message = {
    messageId: `m${round}`,
    body: JSON.stringify({ job, chunk: 0, route: 'queue' }),
    attributes: { ApproximateReceiveCount: '1' },
  };
  workerRuns.push(await runHandlerInFreshProcess(path.join(assets.worker, 'index.mjs'), { Records: [message] }, env));
}
await s3.close();

const summary = (runs: HandlerRun[]) => ({
  initMs: Math.round(median(runs.map((r) => r.initMs))),
  firstEventMs: Math.round(median(runs.map((r) => r.firstEventMs))),
  coldStartMs: Math.round(median(runs.map((r) => r.initMs + r.firstEventMs))),
  peakRssMb: Math.round(median(runs.map((r) => r.peakRssMb))),
});
const report = {
  machine: `${os.cpus()[0].model}, ${os.cpus().length} cores, Node ${process.version}`,
  rounds,
  packages: {
    ingest: {
      zippedMB: +(sizes.ingest.bytes / 1e6).toFixed(2),
      unzippedMB: +(sizes.ingest.unzippedBytes / 1e6).toFixed(2),
    },
    worker: {
      zippedMB: +(sizes.worker.bytes / 1e6).toFixed(2),
      unzippedMB: +(sizes.worker.unzippedBytes / 1e6).toFixed(2),
    },
  },
  coldStart: {
    'ingest, one pair (wasm, 1 thread)': summary(ingestRuns),
    'worker, one 100-pair chunk (wasm, 1 thread)': summary(workerRuns),
  },
};
await mkdir(path.join(root, 'bench-results'), { recursive: true });
await writeFile(path.join(root, 'bench-results/lambda.json'), `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));

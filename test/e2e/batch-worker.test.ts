/**
 * The Batch GPU container's entry point, run as Batch runs it: the bundle the synth stages for
 * the image (lib/batch-image.ts), one process per array child, with the shard variables Batch
 * and the ingest function set, here on the `cpu` engine against the embedded S3 server.
 */
import { mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModelBundle, readManifest } from '../../lambdas/adapters/model-bundle.js';
import { readJobStatus } from '../../lambdas/core/job-status.js';
import { jobKeys } from '../../lambdas/core/keys.js';
import { bundleFiles } from '../../lambdas/core/manifest.js';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import { createIngestHandler } from '../../lambdas/handlers/ingest.js';
import { stageBatchImage } from '../../lib/batch-image.js';
import { startS3Front, total } from '../../local/s3-front.js';
import { type EmbeddedS3, runProcess, s3Event, startEmbeddedS3 } from '../helpers/fresh-process.js';
import { evalDir, readTruthLines, referenceBundle } from '../helpers/runtime.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

describe('Batch image: the build context staged at synth', () => {
  it('carries the bundled entry, the model and a package.json naming only onnxruntime-node and sharp', async () => {
    const manifest = await readManifest(referenceBundle);
    const staged = stageBatchImage(
      ROOT,
      referenceBundle,
      bundleFiles(manifest),
      mkdtempSync(path.join(tmpdir(), 'fb-')),
    );
    const app = path.join(staged.dir, 'app');
    const pkg = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies)).toEqual(['onnxruntime-node', 'sharp']);
    // None of the CLI's, local mode's or the CDK app's dependencies ride in the bundle.
    expect(staged.bundledPackages).toContain('@aws-sdk/client-s3');
    for (const absent of [
      'aws-cdk-lib',
      'constructs',
      's3rver',
      '@duckdb/node-api',
      'playwright-core',
      'commander',
      'tsx',
    ]) {
      expect(staged.bundledPackages).not.toContain(absent);
    }
    const dockerfile = readFileSync(path.join(staged.dir, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('ENTRYPOINT ["node", "/app/index.mjs"]');
    expect(dockerfile).not.toMatch(/npm ci|COPY lambdas|--import tsx/);
    expect(readFileSync(path.join(app, 'model/model.json'), 'utf8')).toBe(
      readFileSync(path.join(referenceBundle, 'model.json'), 'utf8'),
    );
  }, 60_000);
});

describe('Batch worker entry point (the GPU container’s command) on the cpu engine', () => {
  let s3: EmbeddedS3;
  const submitted: { job: string; chunks: number }[] = [];
  const job = 'gpu-big-job';
  let ids: string[];

  // The image's own app/: its bundle, with the repository's node_modules for its two native packages.
  let app: string;
  const entry = () => path.join(app, 'index.mjs');

  beforeAll(async () => {
    const staged = stageBatchImage(
      ROOT,
      referenceBundle,
      bundleFiles(await readManifest(referenceBundle)),
      mkdtempSync(path.join(tmpdir(), 'fusebatch-batch-image-')),
    );
    app = path.join(staged.dir, 'app');
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(app, 'node_modules'));
    s3 = await startEmbeddedS3();
    // A manifest of 20 evaluation pairs and one with a missing image, ingested by the real
    // ingest handler with a threshold that sends it to the Batch route.
    const truth = (await readTruthLines(evalDir)).slice(0, 20) as { image: string; text: string }[];
    const lines = truth.map((t, i) => ({ id: `p${i}`, image: `uploads/big/${i}.png`, text: t.text }));
    for (const [i, t] of truth.entries()) await s3.store.put(lines[i].image, readFileSync(path.join(evalDir, t.image)));
    lines.push({ id: 'lost', image: 'uploads/big/none.png', text: 'a red circle' });
    ids = lines.map((l) => l.id);
    await s3.store.put(`jobs/${job}.jsonl`, lines.map((l) => JSON.stringify(l)).join('\n'));
    await ingestBatchJob(`jobs/${job}.jsonl`);
  }, 120_000);

  /** The real ingest handler, with a threshold that sends the job to the Batch route. */
  async function ingestBatchJob(key: string) {
    const model = await loadModelBundle(referenceBundle, { engine: 'cpu', threads: 1 });
    await createIngestHandler({
      store: s3.store,
      model,
      images: {} as never,
      masks: () => ({}) as never,
      logger: { info: () => {}, debug: () => {}, warn: () => {} },
      queue: { send: async () => Promise.reject(new Error('this job must go to Batch')) },
      batch: {
        submit: async (j, chunks) => {
          submitted.push({ job: j, chunks });
          return 'batch-1';
        },
      },
      chunkSize: 3,
      batchThreshold: 10,
    })(s3Event(s3.bucket, key));
    await model.engine.close();
  }
  afterAll(async () => {
    await s3?.close();
  });

  const child = (index: number | undefined, shards: number, jobName = job) =>
    runProcess(
      [entry()],
      {
        FUSEBATCH_BUCKET: s3.bucket,
        FUSEBATCH_S3_ENDPOINT: s3.endpoint,
        FUSEBATCH_MODEL_DIR: path.join(app, 'model'),
        FUSEBATCH_ENGINE: 'cpu',
        FUSEBATCH_JOB: jobName,
        FUSEBATCH_SHARDS: String(shards),
        ...(index === undefined ? {} : { AWS_BATCH_JOB_ARRAY_INDEX: String(index) }),
      },
      ROOT,
    );

  it('runs the job as three array children, each its shard, to exactly one record per pair', async () => {
    expect(submitted[0]).toEqual({ job, chunks: 7 });
    // Act: the children of a 3-shard array job, at once.
    const outcomes = await Promise.all([0, 1, 2].map((i) => child(i, 3)));
    // Assess
    for (const o of outcomes) expect(o.code, o.stderr || o.stdout).toBe(0);
    const shardLogs = outcomes.map((o) => JSON.parse(o.stdout.split('\n').find((l) => l.includes('shard done'))!));
    expect(shardLogs.map((l) => l.chunks)).toEqual([
      [0, 3, 6],
      [1, 4],
      [2, 5],
    ]);
    const status = await readJobStatus(s3.store, job);
    expect(status).toMatchObject({ complete: true, route: 'batch', total: 21, done: 21, failed: 1, pending: 0 });
    expect(await s3.store.exists(jobKeys.success(job))).toBe(true);
    const records = [];
    for (const prefix of [jobKeys.partsPrefix(job), jobKeys.errorsPrefix(job)]) {
      for (const object of await s3.store.list(prefix)) {
        for (const line of decode(await s3.store.get(object.key))
          .split('\n')
          .filter(Boolean)) {
          records.push(OutputRecordSchema.parse(JSON.parse(line)));
        }
      }
    }
    expect(records.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(records.find((r) => r.id === 'lost')).toMatchObject({ status: 'error', error: { code: 'IMAGE_MISSING' } });
    expect(records.filter((r) => r.status === 'ok').every((r) => r.engine === 'cpu')).toBe(true);
  }, 180_000);

  it('skips the chunks already done when Batch retries a child, and a plain job (no index) is shard 0', async () => {
    // Act
    const retried = await child(undefined, 3);
    // Assess
    expect(retried.code).toBe(0);
    const log = JSON.parse(retried.stdout.split('\n').find((l) => l.includes('shard done'))!);
    expect(log).toMatchObject({ chunks: [0, 3, 6], skipped: [0, 3, 6], failed: [] });
  }, 60_000);

  it('leaves exactly one record per pair when a child is killed mid-shard and Batch runs it again', async () => {
    // Prepare: another job of 10 chunks on the Batch route.
    const killed = 'gpu-killed';
    const truth = (await readTruthLines(evalDir)).slice(0, 30) as { image: string; text: string }[];
    const lines = truth.map((t, i) => ({ id: `k${i}`, image: `uploads/killed/${i}.png`, text: t.text }));
    for (const [i, t] of truth.entries()) await s3.store.put(lines[i].image, readFileSync(path.join(evalDir, t.image)));
    await s3.store.put(`jobs/${killed}.jsonl`, lines.map((l) => JSON.stringify(l)).join('\n'));
    await ingestBatchJob(`jobs/${killed}.jsonl`);
    const env = {
      FUSEBATCH_BUCKET: s3.bucket,
      FUSEBATCH_S3_ENDPOINT: s3.endpoint,
      FUSEBATCH_MODEL_DIR: path.join(app, 'model'),
      FUSEBATCH_ENGINE: 'cpu',
      FUSEBATCH_JOB: killed,
    };
    // Act: SIGKILL once a few chunks are done (the container lost, mid-chunk), then Batch's retry.
    const first = await runProcess([entry()], env, ROOT, (process) => {
      const poll = setInterval(async () => {
        const done = await s3.store.list(`state/jobs/${killed}/done/0/`);
        if (done.length >= 3) {
          clearInterval(poll);
          process.kill('SIGKILL');
        }
      }, 50);
      process.on('exit', () => clearInterval(poll));
    });
    const midway = await readJobStatus(s3.store, killed);
    const retried = await child(undefined, 1, killed);
    // Assess
    expect(first.code).not.toBe(0);
    expect(midway.complete).toBe(false);
    expect(retried.code, retried.stderr).toBe(0);
    expect(await readJobStatus(s3.store, killed)).toMatchObject({ state: 'complete', done: 30, failed: 0 });
    const ids = [];
    for (const object of await s3.store.list(jobKeys.partsPrefix(killed))) {
      for (const line of decode(await s3.store.get(object.key))
        .split('\n')
        .filter(Boolean))
        ids.push(JSON.parse(line).id);
    }
    expect(ids.sort()).toEqual(lines.map((l) => l.id).sort());
  }, 180_000);

  it('runs a shard to exactly one record per pair behind an S3 endpoint answering SlowDown and resetting connections', async () => {
    // Prepare: a third job, and the local S3 front before the server, injecting faults.
    const stormy = 'gpu-stormy';
    const truth = (await readTruthLines(evalDir)).slice(0, 12) as { image: string; text: string }[];
    const lines = truth.map((t, i) => ({ id: `s${i}`, image: `uploads/stormy/${i}.png`, text: t.text }));
    for (const [i, t] of truth.entries()) await s3.store.put(lines[i].image, readFileSync(path.join(evalDir, t.image)));
    await s3.store.put(`jobs/${stormy}.jsonl`, lines.map((l) => JSON.stringify(l)).join('\n'));
    await ingestBatchJob(`jobs/${stormy}.jsonl`);
    const front = await startS3Front({
      upstream: s3.endpoint,
      faults: { seed: 5, slowDown: { rate: 0.3 }, reset: { rate: 0.05, at: 'response' } },
    });
    try {
      // Act
      const run = await runProcess(
        [entry()],
        {
          FUSEBATCH_BUCKET: s3.bucket,
          FUSEBATCH_S3_ENDPOINT: front.endpoint,
          FUSEBATCH_MODEL_DIR: path.join(app, 'model'),
          FUSEBATCH_ENGINE: 'cpu',
          FUSEBATCH_JOB: stormy,
        },
        ROOT,
      );
      // Assess: the child finished (or, had a chunk exhausted its retries, exited 1 for Batch to retry).
      const injected = total(front.counters.slowDowns) + total(front.counters.resets);
      const retried = run.code === 0 ? run : await child(undefined, 1, stormy);
      expect(retried.code, retried.stderr).toBe(0);
      expect(injected).toBeGreaterThan(5);
      expect(await readJobStatus(s3.store, stormy)).toMatchObject({ state: 'complete', done: 12, failed: 0 });
    } finally {
      await front.close();
    }
  }, 180_000);

  it('exits 1 with every environment problem named', async () => {
    // Act
    const outcome = await runProcess([entry()], { FUSEBATCH_SHARDS: 'two' }, ROOT);
    // Assess
    expect(outcome.code).toBe(1);
    // Powertools writes error-level lines to stderr.
    const log = JSON.parse(outcome.stderr.split('\n').find((l) => l.includes('batch worker failed'))!);
    expect(log.error).toMatch(/^batch-worker: invalid environment:/);
    for (const name of ['FUSEBATCH_BUCKET', 'FUSEBATCH_SHARDS', 'FUSEBATCH_JOB'])
      expect(log.error).toContain(`- ${name}: `);
  }, 60_000);
});

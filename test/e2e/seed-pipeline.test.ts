/**
 * The seed article's two bundles through the pipeline a user deploys: the local server (S3 API
 * over HTTP, ingest and workers on its events) and the Lambda packages the CDK app builds, run in
 * fresh processes. The image-only model takes `inbox/<id>.png` alone and never waits for a
 * caption; its manifest lines need no `text`; the word-vector model ships its vectors file.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJobStatus } from '../../lambdas/core/job-status.js';
import { jobKeys, pairKeys } from '../../lambdas/core/keys.js';
import type { ObjectStore } from '../../lambdas/core/ports.js';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/local-pipeline.js';
import { runHandlerInFreshProcess, s3Event, startEmbeddedS3 } from '../helpers/fresh-process.js';
import { inboxMaskKey } from '../helpers/inbox.js';
import { layerEnv, synthesizeLambdaAssets } from '../helpers/lambda-assets.js';

const root = path.resolve(import.meta.dirname, '../..');
const seedMultitask = path.join(root, 'models/seed-multitask');
const seedMultimodal = path.join(root, 'models/seed-multimodal');
const pairsOf = (bundle: string) => path.join(bundle, 'fixtures/parity/pairs');
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const readRecord = async (store: ObjectStore, key: string) =>
  OutputRecordSchema.parse(JSON.parse(decode(await store.get(key))));

async function start(dir: string, modelDir: string): Promise<LocalPipeline> {
  return startLocalPipeline({
    port: 0,
    dataDir: await mkdtemp(path.join(dir, 's3-')),
    workers: 2,
    modelDir,
    engine: 'wasm',
    threads: 1,
    chunkSize: 3,
    batchThreshold: 1000,
    visibilityTimeoutMs: 60_000,
    maxReceiveCount: 3,
    logLevel: 'SILENT',
  });
}

describe('Pipeline: the image-only seed model (models/seed-multitask), locally', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-seed-'));
    pipeline = await start(dir, seedMultitask);
  });
  afterAll(async () => {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs an inbox image alone, never waiting for a caption, and ignores a caption it does not read', async () => {
    // Prepare
    const { store } = pipeline;
    const png = await readFile(path.join(pairsOf(seedMultitask), 'parity-00000.png'));
    // Act
    await store.put(pairKeys.image('alone/p0', 'png'), png);
    await store.put(pairKeys.text('alone/p1'), 'a caption for a model that reads none');
    await pipeline.idle();
    // Assess
    const record = await readRecord(store, pairKeys.result('alone/p0'));
    expect(record).toMatchObject({
      status: 'ok',
      inputs: { image: 'inbox/alone/p0.png' },
      model: { name: 'seed-multitask' },
      tasks: { task1: { width: 64, height: 64, range: [0, 1] }, task2: { width: 64, height: 64 } },
    });
    expect(record.inputs).not.toHaveProperty('text');
    expect(await store.exists(await inboxMaskKey(store, 'alone/p0', record.model, 'task1'))).toBe(true);
    expect(await store.exists(pairKeys.result('alone/p1'))).toBe(false);
  });

  it('runs a manifest whose lines have no text, to one record per line', async () => {
    // Prepare: five images, one line naming an image that is not there, one line with no image.
    const { store } = pipeline;
    const lines: string[] = [];
    for (let i = 0; i < 5; i++) {
      const key = `uploads/seedjob/p${i}.png`;
      await store.put(key, await readFile(path.join(pairsOf(seedMultitask), `parity-0000${i}.png`)));
      lines.push(JSON.stringify({ id: `p${i}`, image: key }));
    }
    lines.push(JSON.stringify({ id: 'gone', image: 'uploads/seedjob/gone.png' }));
    lines.push(JSON.stringify({ id: 'no-image', text: 'only words' }));
    // Act
    await store.put('jobs/seedjob.jsonl', `${lines.join('\n')}\n`);
    await pipeline.idle();
    // Assess
    const status = await readJobStatus(store, 'seedjob');
    expect(status).toMatchObject({ complete: true, total: 7, done: 7, failed: 2 });
    expect(await store.exists(jobKeys.success('seedjob'))).toBe(true);
    const errors = (await store.list(jobKeys.errorsPrefix('seedjob'))).map((o) => o.key);
    const codes = (
      await Promise.all(
        errors.map(async (k) =>
          decode(await store.get(k))
            .split('\n')
            .filter(Boolean),
        ),
      )
    )
      .flat()
      .map((l) => JSON.parse(l))
      .map((r) => [r.id, r.error.code, r.error.message]);
    expect(codes).toEqual(
      expect.arrayContaining([
        ['gone', 'IMAGE_MISSING', expect.any(String)],
        ['no-image', 'INPUT_INVALID', 'line 7: image: image is required: the model reads an image'],
      ]),
    );
  });
});

describe('Pipeline: the word-vector seed model (models/seed-multimodal), locally', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-seed-'));
    pipeline = await start(dir, seedMultimodal);
  });
  afterAll(async () => {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for both halves, then scores the caption from its word vectors', async () => {
    const { store } = pipeline;
    const png = await readFile(path.join(pairsOf(seedMultimodal), 'parity-00001.png'));
    await store.put(pairKeys.image('mm/p1', 'png'), png);
    await pipeline.idle();
    expect(await store.exists(pairKeys.result('mm/p1'))).toBe(false);
    await store.put(pairKeys.text('mm/p1'), 'A photo of a large pink circle.');
    await pipeline.idle();
    expect(await readRecord(store, pairKeys.result('mm/p1'))).toMatchObject({
      status: 'ok',
      inputs: { image: 'inbox/mm/p1.png', text: 'A photo of a large pink circle.' },
      tasks: { match: { score: expect.any(Number), positive: expect.any(Boolean) } },
    });
  });
});

describe('Lambda packages of the seed bundles, run in fresh processes', () => {
  it.each([
    ['seed-multitask', ['model.json', 'model.onnx'], 'png'],
    ['seed-multimodal', ['model.json', 'model.onnx', 'vectors.txt'], 'txt'],
  ])(
    'ships %s with its files and runs an inbox pair from the package',
    async (name, files, trigger) => {
      // Prepare
      const assets = synthesizeLambdaAssets(mkdtempSync(path.join(os.tmpdir(), 'fusebatch-lambda-')), {
        'fusebatch:modelDir': `models/${name}`,
      });
      const s3 = await startEmbeddedS3();
      const bundle = path.join(root, 'models', name);
      try {
        for (const f of files) expect(existsSync(path.join(assets.ingest, 'model', f)), f).toBe(true);
        await s3.store.put(
          pairKeys.image('pkg/p2', 'png'),
          readFileSync(path.join(pairsOf(bundle), 'parity-00002.png')),
        );
        if (trigger === 'txt')
          await s3.store.put(pairKeys.text('pkg/p2'), readFileSync(path.join(pairsOf(bundle), 'parity-00002.txt')));
        // Act
        const run = await runHandlerInFreshProcess(
          path.join(assets.ingest, 'index.mjs'),
          s3Event(s3.bucket, `inbox/pkg/p2.${trigger}`),
          {
            ...layerEnv(assets),
            // The deployed default engine, as the stack sets it.
            FUSEBATCH_ENGINE: String(assets.environment.ingest.FUSEBATCH_ENGINE),
            FUSEBATCH_BUCKET: s3.bucket,
            FUSEBATCH_S3_ENDPOINT: s3.endpoint,
            FUSEBATCH_THREADS: '1',
            FUSEBATCH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/unused',
            FUSEBATCH_CHUNK_SIZE: '4',
          },
        );
        // Assess
        expect(run.result).toEqual([{ outcome: 'processed', id: 'pkg/p2', status: 'ok' }]);
        expect(await readRecord(s3.store, pairKeys.result('pkg/p2'))).toMatchObject({
          model: { name },
          engine: assets.environment.ingest.FUSEBATCH_ENGINE,
        });
      } finally {
        await s3.close();
      }
    },
    240_000,
  );
});

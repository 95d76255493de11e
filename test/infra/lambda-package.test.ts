/**
 * The Lambda packages as the CDK app builds them, run as Lambda runs them: a fresh Node
 * process imports the bundle (init: WebAssembly compile, session) and calls its handler,
 * against the embedded S3 server. Nothing of the source tree is used but the bundle.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobKeys, pairKeys } from '../../lambdas/core/keys.js';
import type { ChunkMessage } from '../../lambdas/core/ports.js';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import { createIngestHandler } from '../../lambdas/handlers/ingest.js';
import { type EmbeddedS3, runHandlerInFreshProcess, s3Event, startEmbeddedS3 } from '../helpers/fresh-process.js';
import { inboxMaskKey } from '../helpers/inbox.js';
import { type LambdaAssets, synthesizeLambdaAssets, zippedSize } from '../helpers/lambda-assets.js';
import { evalDir, readTruthLines } from '../helpers/runtime.js';

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

describe('Lambda packages (bundle + WASM + model), run in fresh processes', () => {
  let assets: LambdaAssets;
  let s3: EmbeddedS3;
  let env: Record<string, string>;
  let truth: Record<string, unknown>[];

  beforeAll(async () => {
    assets = synthesizeLambdaAssets(mkdtempSync(path.join(tmpdir(), 'fusebatch-lambda-')));
    s3 = await startEmbeddedS3();
    env = {
      FUSEBATCH_BUCKET: s3.bucket,
      FUSEBATCH_S3_ENDPOINT: s3.endpoint,
      FUSEBATCH_THREADS: '1',
      FUSEBATCH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/unused',
      FUSEBATCH_CHUNK_SIZE: '4',
      FUSEBATCH_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/unused-dlq',
      FUSEBATCH_MAX_RECEIVE_COUNT: '3',
      // Both mask forms: the setting reaches the packaged function, and the PNG key is tried too.
      FUSEBATCH_MASKS: 'both',
    };
    truth = (await readTruthLines(evalDir)).slice(0, 6);
  }, 180_000);
  afterAll(async () => {
    await s3?.close();
  });

  it('ships the model, the WASM files and sharp’s linux-x64 binaries beside the bundle, within 15 MB zipped', () => {
    // The engine's worker thread only where chunks run: ingest runs single pairs in process.
    expect(existsSync(path.join(assets.worker, 'engine-worker.mjs'))).toBe(true);
    expect(existsSync(path.join(assets.ingest, 'engine-worker.mjs'))).toBe(false);
    for (const dir of [assets.ingest, assets.worker]) {
      for (const file of [
        'index.mjs',
        'ort-wasm-simd-threaded.wasm',
        'ort-wasm-simd-threaded.mjs',
        'model/model.json',
        'model/model.onnx',
        'model/tokenizer.json',
        'node_modules/@img/sharp-linux-x64/package.json',
        'node_modules/@img/sharp-libvips-linux-x64/package.json',
      ]) {
        expect(existsSync(path.join(dir, file)), file).toBe(true);
      }
      expect(existsSync(path.join(dir, 'node_modules/onnxruntime-node'))).toBe(false);
      expect(zippedSize(dir).bytes).toBeLessThanOrEqual(15 * 1000 * 1000);
    }
  });

  it('ingest: runs a single pair on the wasm engine from the package and writes its record', async () => {
    // Prepare
    const pair = truth[0] as { image: string; text: string };
    await s3.store.put(pairKeys.image('bundle/p1', 'png'), readFileSync(path.join(evalDir, pair.image)));
    await s3.store.put(pairKeys.text('bundle/p1'), pair.text);
    // Act
    const run = await runHandlerInFreshProcess(
      path.join(assets.ingest, 'index.mjs'),
      s3Event(s3.bucket, 'inbox/bundle/p1.txt'),
      env,
    );
    // Assess
    expect(run.result).toEqual([{ outcome: 'processed', id: 'bundle/p1', status: 'ok' }]);
    const record = OutputRecordSchema.parse(JSON.parse(decode(await s3.store.get(pairKeys.result('bundle/p1')))));
    expect(record).toMatchObject({ status: 'ok', engine: 'wasm', model: { name: 'shapes-reference' } });
    const maskKey = await inboxMaskKey(s3.store, 'bundle/p1', record.model, 'mask');
    expect(await s3.store.exists(maskKey)).toBe(true);
    expect(record.status === 'ok' && record.tasks.mask).toMatchObject({
      mask: maskKey,
      rle: { counts: expect.any(String) },
    });
    // Powertools metrics are printed as CloudWatch embedded metric format.
    expect(run.stdout).toContain('"PairsProcessed":1');
  }, 120_000);

  it('worker: runs a chunk message and reports a malformed one as a failed item', async () => {
    // Prepare: a job ingested by the same handler code (in process), its chunk messages captured.
    const messages: ChunkMessage[] = [];
    const lines = truth.map((t, i) => {
      const image = `uploads/bundle-job/${i}.png`;
      return { id: `b${i}`, image, text: t.text as string, file: t.image as string };
    });
    for (const l of lines) await s3.store.put(l.image, readFileSync(path.join(evalDir, l.file)));
    await s3.store.put('jobs/bundle-job.jsonl', lines.map(({ file: _f, ...l }) => JSON.stringify(l)).join('\n'));
    const { loadModelBundle } = await import('../../lambdas/adapters/model-bundle.js');
    const model = await loadModelBundle(path.join(assets.worker, 'model'), { engine: 'cpu', threads: 1 });
    const ingest = createIngestHandler({
      store: s3.store,
      model,
      images: { decode: async () => Promise.reject(new Error('unused')) } as never,
      masks: () => ({ save: async () => null }) as never,
      logger: { info: () => {}, debug: () => {}, warn: () => {} },
      queue: { send: async (m) => void messages.push(...m) },
      batch: { submit: async () => Promise.reject(new Error('no batch route here')) },
      chunkSize: 4,
      batchThreshold: 1000,
    });
    await ingest(s3Event(s3.bucket, 'jobs/bundle-job.jsonl'));
    await model.engine.close();
    expect(messages).toEqual([
      { job: 'bundle-job', chunk: 0, route: 'queue', generation: 0 },
      { job: 'bundle-job', chunk: 1, route: 'queue', generation: 0 },
    ]);
    const sqsEvent = {
      Records: [
        ...messages.map((m, i) => ({
          messageId: `m${i}`,
          body: JSON.stringify(m),
          attributes: { ApproximateReceiveCount: '1' },
          eventSource: 'aws:sqs',
        })),
        { messageId: 'bad', body: 'not json', attributes: { ApproximateReceiveCount: '1' }, eventSource: 'aws:sqs' },
      ],
    };
    // Act
    const run = await runHandlerInFreshProcess(path.join(assets.worker, 'index.mjs'), sqsEvent, env);
    // Assess
    expect(run.result).toEqual({ batchItemFailures: [{ itemIdentifier: 'bad' }] });
    const parts = await Promise.all([0, 1].map((c) => s3.store.get(jobKeys.part('bundle-job', c))));
    const records = parts.flatMap((p) =>
      decode(p)
        .split('\n')
        .filter(Boolean)
        .map((l) => OutputRecordSchema.parse(JSON.parse(l))),
    );
    expect(records.map((r) => r.id).sort()).toEqual(lines.map((l) => l.id).sort());
    expect(records.every((r) => r.engine === 'wasm' && r.status === 'ok')).toBe(true);
    expect(await s3.store.exists(jobKeys.success('bundle-job'))).toBe(true);
  }, 120_000);

  it('refuses to start with a clear message when its environment is incomplete', async () => {
    // Act
    const attempt = runHandlerInFreshProcess(
      path.join(assets.worker, 'index.mjs'),
      { Records: [] },
      { FUSEBATCH_BUCKET: 'b' },
    );
    // Assess
    await expect(attempt).rejects.toThrow(
      /worker: invalid environment:\n\s+- FUSEBATCH_DLQ_URL: .*\n\s+- FUSEBATCH_MAX_RECEIVE_COUNT/,
    );
  }, 60_000);
});

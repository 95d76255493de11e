/**
 * The Lambda packages as the CDK app builds them, run as Lambda runs them: a fresh Node
 * process imports the bundle (init: WebAssembly compile, session) and calls its handler,
 * against the embedded S3 server. Nothing of the source tree is used but the bundle.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobStatusDocumentSchema } from '../../lambdas/core/job-status.js';
import { jobKeys, pairKeys } from '../../lambdas/core/keys.js';
import type { ChunkMessage } from '../../lambdas/core/ports.js';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import { createIngestHandler } from '../../lambdas/handlers/ingest.js';
import { type EmbeddedS3, runHandlerInFreshProcess, s3Event, startEmbeddedS3 } from '../helpers/fresh-process.js';
import { inboxMaskKey } from '../helpers/inbox.js';
import { type LambdaAssets, layerEnv, synthesizeLambdaAssets, zippedSize } from '../helpers/lambda-assets.js';
import { evalDir, readTruthLines } from '../helpers/runtime.js';

const decode = (b: Uint8Array) => new TextDecoder().decode(b);

describe('Lambda packages (bundle + WASM + model), run in fresh processes', () => {
  let assets: LambdaAssets;
  let s3: EmbeddedS3;
  let env: Record<string, string>;
  let truth: Record<string, unknown>[];

  beforeAll(async () => {
    assets = synthesizeLambdaAssets(mkdtempSync(path.join(tmpdir(), 'fusebatch-lambda-')), {
      'fusebatch:lambdaEngine': 'wasm',
    });
    s3 = await startEmbeddedS3();
    env = {
      ...layerEnv(assets),
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

  it('ships the model and the WASM files beside the bundle within 10 MB zipped, and sharp’s linux-x64 binaries in a layer', () => {
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
      ]) {
        expect(existsSync(path.join(dir, file)), file).toBe(true);
      }
      expect(existsSync(path.join(dir, 'node_modules'))).toBe(false);
      expect(zippedSize(dir).bytes).toBeLessThanOrEqual(10 * 1000 * 1000);
    }
    // The layer: where Lambda's NODE_PATH looks, without build-time files.
    const layer = filesUnder(assets.sharpLayer);
    for (const file of [
      'nodejs/node_modules/@img/sharp-linux-x64/package.json',
      'nodejs/node_modules/@img/sharp-libvips-linux-x64/package.json',
    ]) {
      expect(layer, file).toContain(file);
    }
    expect(layer.filter((f) => /glib-2\.0|README\.md$/.test(f))).toEqual([]);
    // No onnxruntime-node layer: the wasm package never loads it.
    expect(assets.engineLayer).toBeUndefined();
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
      // Lambda's own NODE_PATH (the layer) is always there; of the function's variables, one.
      { ...layerEnv(assets), FUSEBATCH_BUCKET: 'b' },
    );
    // Assess
    await expect(attempt).rejects.toThrow(
      /worker: invalid environment:\n\s+- FUSEBATCH_DLQ_URL: .*\n\s+- FUSEBATCH_MAX_RECEIVE_COUNT/,
    );
  }, 60_000);
});

/** Every file under `dir`, relative to it, with / separators. */
function filesUnder(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => {
    const child = path.posix.join(rel, e.name);
    return e.isDirectory() ? filesUnder(dir, child) : [child];
  });
}

describe('Lambda packages on the cpu engine (onnxruntime-node), run in fresh processes', () => {
  let assets: LambdaAssets;
  let s3: EmbeddedS3;
  let env: Record<string, string>;
  let truth: Record<string, unknown>[];

  beforeAll(async () => {
    assets = synthesizeLambdaAssets(mkdtempSync(path.join(tmpdir(), 'fusebatch-lambda-cpu-')), {
      'fusebatch:lambdaEngine': 'cpu',
    });
    s3 = await startEmbeddedS3();
    env = {
      ...layerEnv(assets),
      FUSEBATCH_BUCKET: s3.bucket,
      FUSEBATCH_S3_ENDPOINT: s3.endpoint,
      FUSEBATCH_ENGINE: 'cpu',
      FUSEBATCH_THREADS: '1',
      FUSEBATCH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/unused',
      FUSEBATCH_CHUNK_SIZE: '4',
      FUSEBATCH_DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/unused-dlq',
      FUSEBATCH_MAX_RECEIVE_COUNT: '3',
    };
    truth = (await readTruthLines(evalDir)).slice(0, 5);
  }, 180_000);
  afterAll(async () => {
    await s3?.close();
  });

  it('sets FUSEBATCH_ENGINE=cpu on both functions', () => {
    expect(assets.environment.ingest).toMatchObject({ FUSEBATCH_ENGINE: 'cpu' });
    expect(assets.environment.worker).toMatchObject({ FUSEBATCH_ENGINE: 'cpu' });
  });

  it('ships onnxruntime-node in a layer of its own, with its linux-x64 CPU binaries only: no other platform, no CUDA or TensorRT provider', () => {
    expect(assets.engineLayer).toBeDefined();
    const layer = filesUnder(assets.engineLayer!);
    // Where Lambda's NODE_PATH looks, and nothing else.
    expect(layer.filter((f) => !/^nodejs\/node_modules\/onnxruntime-(node|common)\//.test(f))).toEqual([]);
    const ortBinaries = layer.filter((f) => f.startsWith('nodejs/node_modules/onnxruntime-node/bin/'));
    expect(ortBinaries.map((f) => f.replace(/napi-v\d+/, 'napi-v*')).sort()).toEqual([
      'nodejs/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so.1',
      'nodejs/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/onnxruntime_binding.node',
    ]);
    expect(layer.filter((f) => /providers|cuda|tensorrt|darwin|win32|arm64|\.dll$|\.dylib$/i.test(f))).toEqual([]);
    // What onnxruntime-node needs at run time: its JavaScript and onnxruntime-common's CommonJS build.
    for (const file of [
      'nodejs/node_modules/onnxruntime-node/package.json',
      'nodejs/node_modules/onnxruntime-node/dist/index.js',
      'nodejs/node_modules/onnxruntime-node/dist/binding.js',
      'nodejs/node_modules/onnxruntime-common/package.json',
      'nodejs/node_modules/onnxruntime-common/dist/cjs/index.js',
    ]) {
      expect(layer, file).toContain(file);
    }
    // Its install script's dependencies stay out, and so do source maps and typings.
    expect(layer.filter((f) => /adm-zip|global-agent|onnxruntime-web|ort-wasm|\.map$|\.d\.ts$/.test(f))).toEqual([]);
    // Lambda's limit is 250 MB unzipped, function and layers together; README's table has the zipped sizes.
    const unzipped = (dir: string) => zippedSize(dir).unzippedBytes;
    for (const dir of [assets.ingest, assets.worker]) {
      expect(unzipped(dir) + unzipped(assets.sharpLayer) + unzipped(assets.engineLayer!)).toBeLessThan(
        250 * 1000 * 1000,
      );
    }
  });

  it('keeps the function packages to the code and the model, within 10 MB zipped: no node_modules, no WASM', () => {
    for (const dir of [assets.ingest, assets.worker]) {
      const files = filesUnder(dir);
      for (const file of ['index.mjs', 'model/model.json', 'model/model.onnx', 'model/tokenizer.json']) {
        expect(files, file).toContain(file);
      }
      expect(files.filter((f) => /(^|\/)node_modules\/|onnxruntime|ort-wasm|\.node$|\.so(\.\d+)*$/.test(f))).toEqual(
        [],
      );
      expect(zippedSize(dir).bytes).toBeLessThanOrEqual(10 * 1000 * 1000);
    }
    expect(filesUnder(assets.worker)).toContain('engine-worker.mjs');
    expect(filesUnder(assets.ingest)).not.toContain('engine-worker.mjs');
  });

  it('ingest: runs a single pair on the cpu engine from the package and writes its record', async () => {
    // Prepare
    const pair = truth[0] as { image: string; text: string };
    await s3.store.put(pairKeys.image('cpu/p1', 'png'), readFileSync(path.join(evalDir, pair.image)));
    await s3.store.put(pairKeys.text('cpu/p1'), pair.text);
    // Act
    const run = await runHandlerInFreshProcess(
      path.join(assets.ingest, 'index.mjs'),
      s3Event(s3.bucket, 'inbox/cpu/p1.txt'),
      env,
    );
    // Assess
    expect(run.result).toEqual([{ outcome: 'processed', id: 'cpu/p1', status: 'ok' }]);
    const record = OutputRecordSchema.parse(JSON.parse(decode(await s3.store.get(pairKeys.result('cpu/p1')))));
    expect(record).toMatchObject({ status: 'ok', engine: 'cpu', model: { name: 'shapes-reference' } });
  }, 120_000);

  it('finds onnxruntime-node only through its layer: without it on NODE_PATH the function cannot start', async () => {
    // Act: Lambda's NODE_PATH as if the function had the sharp layer alone.
    const attempt = runHandlerInFreshProcess(
      path.join(assets.ingest, 'index.mjs'),
      s3Event(s3.bucket, 'inbox/cpu/none.txt'),
      { ...env, NODE_PATH: path.join(assets.sharpLayer, 'nodejs/node_modules') },
    );
    // Assess
    await expect(attempt).rejects.toThrow(/Cannot find module 'onnxruntime-node'/);
  }, 60_000);

  it('worker: runs a chunk on the cpu engine from the package, with 2 threads, and completes the job', async () => {
    // Prepare: a one-chunk job as ingest writes it (status document, chunk object, images).
    const job = 'cpu-job';
    const lines = truth.map((t, i) => ({ id: `c${i}`, image: `uploads/${job}/${i}.png`, text: t.text as string }));
    for (const [i, t] of truth.entries()) {
      await s3.store.put(lines[i].image, readFileSync(path.join(evalDir, t.image as string)));
    }
    await s3.store.put(jobKeys.chunk(job, 0), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    const status = JobStatusDocumentSchema.parse({
      job,
      manifest: `jobs/${job}.jsonl`,
      route: 'queue',
      lines: lines.length,
      invalid: 0,
      chunkSize: lines.length,
      chunks: 1,
      createdAt: new Date().toISOString(),
    });
    await s3.store.put(jobKeys.status(job), JSON.stringify(status));
    const message = { job, chunk: 0, route: 'queue', generation: 0 };
    const sqsEvent = {
      Records: [{ messageId: 'm0', body: JSON.stringify(message), attributes: { ApproximateReceiveCount: '1' } }],
    };
    // Act
    const run = await runHandlerInFreshProcess(path.join(assets.worker, 'index.mjs'), sqsEvent, {
      ...env,
      FUSEBATCH_THREADS: '2',
    });
    // Assess
    expect(run.result).toEqual({ batchItemFailures: [] });
    const records = decode(await s3.store.get(jobKeys.part(job, 0)))
      .split('\n')
      .filter(Boolean)
      .map((l) => OutputRecordSchema.parse(JSON.parse(l)));
    expect(records.map((r) => r.id).sort()).toEqual(lines.map((l) => l.id).sort());
    expect(records.every((r) => r.engine === 'cpu' && r.status === 'ok')).toBe(true);
    expect(await s3.store.exists(jobKeys.success(job))).toBe(true);
  }, 120_000);
});

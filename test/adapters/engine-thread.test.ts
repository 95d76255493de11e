/**
 * An engine hosted in a worker thread gives the same outputs as on the calling thread, keeps
 * concurrent runs apart, survives a failed run, reports engine start-up failures, and outlives
 * a thread that dies: the runs it held fail with an EngineError, the next runs on a fresh thread,
 * and a crash loop or a wedged run ends in errors, never in a hang.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createThreadedEngine,
  engineThreadId,
  killEngineThread,
} from '../../lambdas/adapters/engines/engine-thread.js';
import { createEngine } from '../../lambdas/adapters/engines/index.js';
import { EngineError } from '../../lambdas/core/errors.js';
import { float32, type InferenceEngine, int64, type TensorData } from '../../lambdas/core/tensor.js';
import { parityDir, referenceBundle } from '../helpers/runtime.js';
import { maxAbsDiff, readTensors } from '../helpers/tensors.js';

async function parityFeeds(): Promise<Record<string, TensorData>> {
  const stored = await readTensors(path.join(parityDir, 'outputs'));
  // The stored input ids and attention mask, with a fixed image tensor: enough to compare engines.
  const ids = stored.input_ids;
  const n = ids.shape[0];
  const image = new Float32Array(n * 3 * 128 * 128).map((_, i) => Math.sin(i) * 0.5);
  return {
    image: { type: 'float32', data: image, dims: [n, 3, 128, 128] },
    input_ids: { type: 'int64', data: ids.data as BigInt64Array, dims: ids.shape },
    attention_mask: {
      type: 'int64',
      data: stored.attention_mask.data as BigInt64Array,
      dims: stored.attention_mask.shape,
    },
  };
}

describe('Engines in a worker thread', () => {
  let model: Uint8Array;
  let local: InferenceEngine;
  let threaded: InferenceEngine;
  beforeAll(async () => {
    model = await readFile(path.join(referenceBundle, 'model.onnx'));
    local = await createEngine('cpu', model, { threads: 1 });
    threaded = await createEngine('cpu', model, { threads: 1, inWorkerThread: true });
  });
  afterAll(async () => {
    await local?.close();
    await threaded?.close();
  });

  it('declares the same graph and gives the same outputs as the engine on this thread', async () => {
    // Prepare
    const feeds = await parityFeeds();
    // Act
    const [a, b] = [await local.run(feeds), await threaded.run(feeds)];
    // Assess
    expect(threaded.inputs).toEqual(local.inputs);
    expect(threaded.outputs).toEqual(local.outputs);
    for (const name of Object.keys(a)) {
      expect(b[name].dims).toEqual(a[name].dims);
      expect(maxAbsDiff(b[name].data as Float32Array, a[name].data as Float32Array)).toBe(0);
    }
  });

  it('moves handed-over feeds to the thread (the caller’s arrays are emptied) with the same outputs; copies the rest', async () => {
    // Prepare: the image tensor a whole buffer of its own, the input ids a view into a larger one.
    const feeds = await parityFeeds();
    const expected = await local.run(feeds);
    const ids = feeds.input_ids.data as BigInt64Array;
    const larger = new BigInt64Array(ids.length + 4);
    larger.set(ids, 4);
    const image = () => float32((feeds.image.data as Float32Array).slice(), feeds.image.dims);
    const handed: Record<string, TensorData> = {
      image: image(),
      input_ids: int64(larger.subarray(4), feeds.input_ids.dims),
      attention_mask: int64((feeds.attention_mask.data as BigInt64Array).slice(), feeds.attention_mask.dims),
    };
    const kept = { ...feeds, image: image() };
    // Act
    const [moved, copied] = [await threaded.run(handed, { handOver: true }), await threaded.run(kept)];
    // Assess: the same outputs either way.
    for (const name of Object.keys(expected)) {
      expect(maxAbsDiff(moved[name].data as Float32Array, expected[name].data as Float32Array)).toBe(0);
      expect(maxAbsDiff(copied[name].data as Float32Array, expected[name].data as Float32Array)).toBe(0);
    }
    // Whole buffers handed over are gone from this thread; a view, and feeds not handed over, stay.
    expect(handed.image.data.length).toBe(0);
    expect(handed.attention_mask.data.length).toBe(0);
    expect(handed.input_ids.data.length).toBe(ids.length);
    expect(larger.length).toBe(ids.length + 4);
    expect(kept.image.data.length).toBe(feeds.image.data.length);
  });

  it('keeps concurrent runs apart: each promise gets its own batch’s outputs', async () => {
    // Prepare: batches of different sizes.
    const feeds = await parityFeeds();
    const slice = (k: number): Record<string, TensorData> =>
      Object.fromEntries(
        Object.entries(feeds).map(([name, t]) => {
          const per = t.data.length / t.dims[0];
          const data = t.data.slice(0, k * per) as Float32Array & BigInt64Array;
          return [name, { ...t, data, dims: [k, ...t.dims.slice(1)] } as TensorData];
        }),
      );
    // Act
    const results = await Promise.all([1, 5, 2, 7].map((k) => threaded.run(slice(k))));
    // Assess
    expect(results.map((r) => r.shape_logits.dims[0])).toEqual([1, 5, 2, 7]);
  });

  it('rejects a bad batch with the engine’s error and goes on serving', async () => {
    // Prepare
    const feeds = await parityFeeds();
    const bad = { ...feeds, image: { type: 'float32', data: new Float32Array(3), dims: [1, 3, 1, 1] } as TensorData };
    // Act
    const failed = threaded.run(bad);
    // Assess
    await expect(failed).rejects.toThrow(/image|dimension|shape/i);
    await expect(threaded.run(feeds)).resolves.toHaveProperty('shape_logits');
  });

  it('reports an engine that cannot start (cuda without CUDA) as an EngineError, from the thread', async () => {
    // Act
    const attempt = createEngine('cuda', model, { threads: 1, inWorkerThread: true });
    // Assess
    await expect(attempt).rejects.toBeInstanceOf(EngineError);
    await expect(createEngine('cuda', model, { threads: 1, inWorkerThread: true })).rejects.toThrow(/cuda/i);
  });

  it('refuses runs once closed', async () => {
    // Prepare
    const engine = await createEngine('wasm', model, { threads: 1, inWorkerThread: true });
    await engine.run(await parityFeeds());
    // Act
    await engine.close();
    // Assess
    await expect(engine.run(await parityFeeds())).rejects.toThrow(/closed/);
  });

  // Threads are ended mid-run with the wasm engine only: ending a thread while onnxruntime-node
  // runs a batch natively aborts the whole process (a Napi::Error thrown in a torn-down thread).
  it('fails the runs a dying thread held with an EngineError, then runs the next batch on a fresh thread', async () => {
    // Prepare
    const feeds = await parityFeeds();
    const engine = await createThreadedEngine('wasm', model, { threads: 1 });
    try {
      const before = await engine.run(feeds);
      const firstThread = engineThreadId(engine);
      const inFlight = Promise.allSettled([engine.run(feeds), engine.run(feeds)]);
      // Act: the thread ends as a crash would, with both runs posted to it.
      await killEngineThread(engine);
      const outcomes = await inFlight;
      const next = await engine.run(feeds);
      // Assess
      for (const outcome of outcomes) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(EngineError);
        expect(reason.message).toMatch(
          /wasm engine's worker thread died \(exit code 1\); the next run starts a fresh thread/,
        );
      }
      // A fresh thread, with the same model and options: the same outputs as before the crash.
      expect(engineThreadId(engine)).toEqual(expect.any(Number));
      expect(engineThreadId(engine)).not.toBe(firstThread);
      for (const output of Object.keys(before)) {
        expect(maxAbsDiff(next[output].data as Float32Array, before[output].data as Float32Array)).toBe(0);
      }
    } finally {
      await engine.close();
    }
  }, 30_000);

  it('stops restarting when a restarted thread dies again soon, and fails every later run at once', async () => {
    // Prepare
    const feeds = await parityFeeds();
    const engine = await createThreadedEngine('cpu', model, { threads: 1, restartWindowMs: 60_000 });
    try {
      await killEngineThread(engine);
      await engine.run(feeds); // on the restarted thread
      // Act: the replacement dies within the window.
      await killEngineThread(engine);
      const later = await Promise.allSettled([engine.run(feeds), engine.run(feeds)]);
      // Assess
      for (const outcome of later) {
        expect(outcome.status).toBe('rejected');
        const reason = (outcome as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(EngineError);
        expect(reason.message).toMatch(
          /not usable: .* died \(exit code 1\), and the restarted thread died \d+ ms after/,
        );
      }
      expect(engineThreadId(engine)).toBeUndefined();
    } finally {
      await engine.close();
    }
  }, 30_000);

  it('stops restarting past maxRestarts', async () => {
    // Prepare
    const feeds = await parityFeeds();
    const engine = await createThreadedEngine('cpu', model, { threads: 1, maxRestarts: 1, restartWindowMs: 0 });
    try {
      await killEngineThread(engine);
      await engine.run(feeds);
      // Act
      await killEngineThread(engine);
      const after = engine.run(feeds);
      // Assess
      await expect(after).rejects.toBeInstanceOf(EngineError);
      await expect(after).rejects.toThrow(/restarted 1 time\(s\) already \(limit 1\)/);
    } finally {
      await engine.close();
    }
  }, 30_000);

  it('stops a thread whose run gets no answer within runTimeoutMs, failing the run instead of waiting forever', async () => {
    // Prepare: no real batch is answered within 1 ms, so every run counts as wedged.
    const feeds = await parityFeeds();
    const engine = await createThreadedEngine('wasm', model, {
      threads: 1,
      runTimeoutMs: 1,
      maxRestarts: 1,
      restartWindowMs: 0,
    });
    try {
      // Act
      const first = await engine.run(feeds).catch((e: Error) => e);
      const second = await engine.run(feeds).catch((e: Error) => e); // a restarted thread, stopped again
      const third = await engine.run(feeds).catch((e: Error) => e);
      // Assess
      for (const error of [first, second]) {
        expect(error).toBeInstanceOf(EngineError);
        expect((error as Error).message).toMatch(/run got no answer within 1 ms; its worker thread is stopped/);
      }
      expect(third).toBeInstanceOf(EngineError);
      expect((third as Error).message).toMatch(/not usable: .*died \(stopped: a run got no answer within 1 ms\)/);
    } finally {
      await engine.close();
    }
  }, 30_000);
});

/**
 * The pipeline's contract on the real reference model: one record per pair in input order,
 * bad pairs failing alone, engine failures isolated to the pair that causes them, and the
 * next batch prepared while the current one runs.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SharpImageDecoder } from '../../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../../lambdas/adapters/model-bundle.js';
import { storePair } from '../../lambdas/core/bucket-pipeline.js';
import { ByteBudget } from '../../lambdas/core/byte-budget.js';
import { EngineError } from '../../lambdas/core/errors.js';
import type { TokenTextInput } from '../../lambdas/core/manifest.js';
import { type ImageDecoder, type PairSource, type RuntimeModel, runPipeline } from '../../lambdas/core/pipeline.js';
import type { OutputRecord } from '../../lambdas/core/records.js';
import type { TokenIdsEncoder } from '../../lambdas/core/text.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { memoryPair, parityPairs, referenceBundle } from '../helpers/runtime.js';
import { withOverrides } from '../helpers/store-wrappers.js';

async function collect(records: AsyncIterable<OutputRecord>): Promise<OutputRecord[]> {
  const out: OutputRecord[] = [];
  for await (const r of records) out.push(r);
  return out;
}

describe('Function: runPipeline', () => {
  let model: RuntimeModel;
  let png: Uint8Array;
  beforeAll(async () => {
    model = await loadModelBundle(referenceBundle, { engine: 'cpu', threads: 1 });
    png = await readFile(path.join(parityPairs, 'parity-00000.png'));
  });
  afterAll(async () => {
    await model?.engine.close();
  });

  /** The real engine, except that it fails any batch holding the caption 'cross' (its first token). */
  const poisonedEngine = () => {
    const poisonIds = (model.text as TokenIdsEncoder).encode('cross')[0];
    return {
      ...model.engine,
      run: async (feeds: Parameters<RuntimeModel['engine']['run']>[0]) => {
        const ids = feeds[(model.manifest.inputs.text as TokenTextInput).idsTensor].data as BigInt64Array;
        if (ids.includes(BigInt(poisonIds))) throw new Error('kernel exploded');
        return model.engine.run(feeds);
      },
    };
  };

  it('returns one record per pair, in order, with bad pairs failing alone', async () => {
    // Prepare
    const pairs: PairSource[] = [
      memoryPair('good-1', png, 'a red circle'),
      memoryPair('truncated', png.subarray(0, png.length / 2), 'a red circle'),
      memoryPair('not-an-image', new TextEncoder().encode('hello'), 'a red circle'),
      memoryPair('no-text', png, null),
      memoryPair('empty-text', png, '  '),
      memoryPair('bad-utf8', png, Uint8Array.from([0xff, 0xfe])),
      memoryPair('good-2', png, 'a blue star'),
    ];
    // Act
    const records = await collect(runPipeline(pairs, { model, images: new SharpImageDecoder(), batchSize: 4 }));
    // Assess
    expect(records.map((r) => [r.id, r.status === 'ok' ? 'ok' : r.error.code])).toEqual([
      ['good-1', 'ok'],
      ['truncated', 'IMAGE_TRUNCATED'],
      ['not-an-image', 'IMAGE_UNREADABLE'],
      ['no-text', 'TEXT_MISSING'],
      ['empty-text', 'TEXT_EMPTY'],
      ['bad-utf8', 'TEXT_INVALID_UTF8'],
      ['good-2', 'ok'],
    ]);
  });

  it('returns for good pairs in a batch with bad ones exactly what they give alone', async () => {
    // Prepare
    const good = memoryPair('good', png, 'a red circle');
    const mixed = [memoryPair('bad', new Uint8Array(3), 'x'), good, memoryPair('worse', png, null)];
    // Act
    const alone = await collect(runPipeline([good], { model, images: new SharpImageDecoder() }));
    const inBatch = await collect(runPipeline(mixed, { model, images: new SharpImageDecoder() }));
    // Assess
    expect(JSON.stringify(inBatch[1])).toBe(JSON.stringify(alone[0]));
  });

  it('fails only the pair that breaks the engine, not its batch', async () => {
    // Prepare: an engine that refuses any batch holding the poisoned caption's first token.
    const engine = poisonedEngine();
    const pairs = [
      memoryPair('a', png, 'a red circle'),
      memoryPair('b', png, 'cross'),
      memoryPair('c', png, 'a blue star'),
    ];
    // Act
    const records = await collect(runPipeline(pairs, { model: { ...model, engine }, images: new SharpImageDecoder() }));
    // Assess
    expect(records.map((r) => r.status)).toEqual(['ok', 'error', 'ok']);
    const failed = records[1];
    expect(failed.status === 'error' && failed.error).toEqual({
      code: 'INFERENCE_FAILED',
      message: 'inference failed on this pair: kernel exploded',
    });
  });

  it('records a pair that fails alone in a batch of one when the engine still runs the pairs it ran before', async () => {
    // Prepare: batches of one, the poisoned pair after a good one.
    const engine = poisonedEngine();
    const pairs = [memoryPair('a', png, 'a red circle'), memoryPair('b', png, 'cross')];
    // Act
    const records = await collect(
      runPipeline(pairs, { model: { ...model, engine }, images: new SharpImageDecoder(), batchSize: 1 }),
    );
    // Assess
    expect(records.map((r) => (r.status === 'ok' ? 'ok' : r.error.code))).toEqual(['ok', 'INFERENCE_FAILED']);
  });

  it('throws, and records nothing, when the engine fails on every pair and on what it ran before', async () => {
    // Prepare: an engine that worked once, then breaks for good (not any pair's fault).
    let broken = false;
    const engine = {
      ...model.engine,
      run: async (feeds: Parameters<RuntimeModel['engine']['run']>[0]) => {
        if (broken) throw new Error('CUDA error: an illegal memory access was encountered');
        return model.engine.run(feeds);
      },
    };
    const broke = { ...model, engine };
    await collect(
      runPipeline([memoryPair('warm', png, 'a red circle')], { model: broke, images: new SharpImageDecoder() }),
    );
    broken = true;
    const pairs = [memoryPair('a', png, 'a red circle'), memoryPair('b', png, 'a blue star')];
    // Act
    const run = collect(runPipeline(pairs, { model: broke, images: new SharpImageDecoder() }));
    // Assess
    await expect(run).rejects.toThrow(/inference failed on every pair of a batch of 2: CUDA error/);
    await expect(run).rejects.toBeInstanceOf(EngineError);
  });

  it('throws an EngineError from the engine at once instead of recording the batch', async () => {
    // Prepare
    let calls = 0;
    const engine = {
      ...model.engine,
      run: async () => {
        calls++;
        throw new EngineError("the wasm engine's worker thread exited (code 1)");
      },
    };
    // Act
    const run = collect(
      runPipeline([memoryPair('a', png, 'a red circle'), memoryPair('b', png, 'a blue star')], {
        model: { ...model, engine },
        images: new SharpImageDecoder(),
      }),
    );
    // Assess
    await expect(run).rejects.toThrow(/worker thread exited/);
    expect(calls).toBe(1);
  });

  it('throws a storage failure reading a half instead of blaming the pair', async () => {
    // Prepare: the store answers a GET with a connection reset.
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const pair: PairSource = { ...memoryPair('a', png, 'a red circle'), readImage: () => Promise.reject(reset) };
    // Act
    const run = collect(
      runPipeline([memoryPair('ok', png, 'a red circle'), pair], { model, images: new SharpImageDecoder() }),
    );
    // Assess
    await expect(run).rejects.toBe(reset);
  });

  it('throws a failed mask write instead of recording the pair as an error', async () => {
    // Prepare: a mask store whose PUT is throttled for good.
    const slowDown = Object.assign(new Error('Please reduce your request rate.'), { name: 'SlowDown' });
    const masks = { save: () => Promise.reject(slowDown) };
    // Act
    const run = collect(
      runPipeline([memoryPair('a', png, 'a red circle')], {
        model,
        images: new SharpImageDecoder(),
        masks,
        maskFormat: 'png', // masks as PNG objects: the store is written to
      }),
    );
    // Assess
    await expect(run).rejects.toBe(slowDown);
  });

  it('prepares the next batch while the engine runs the current one', async () => {
    // Prepare: log when each decode starts and when each inference starts and ends.
    const events: string[] = [];
    const codec = new SharpImageDecoder();
    const images: ImageDecoder = {
      decode: (bytes, spec) => {
        events.push('decode');
        return codec.decode(bytes, spec);
      },
    };
    const engine = {
      ...model.engine,
      run: async (feeds: Parameters<RuntimeModel['engine']['run']>[0]) => {
        events.push('run-start');
        const out = await model.engine.run(feeds);
        await new Promise((resolve) => setTimeout(resolve, 50)); // a slow engine: room for overlap
        events.push('run-end');
        return out;
      },
    };
    const pairs = Array.from({ length: 6 }, (_, i) => memoryPair(`p${i}`, png, 'a red circle'));
    // Act
    await collect(runPipeline(pairs, { model: { ...model, engine }, images, batchSize: 2 }));
    // Assess: (at least) batch 2's decodes happen between batch 1's run-start and run-end.
    const firstRun = events.indexOf('run-start');
    const firstEnd = events.indexOf('run-end');
    expect(events.slice(firstRun, firstEnd).filter((e) => e === 'decode').length).toBeGreaterThanOrEqual(2);
  });

  it('runs the next batch on the engine while the current batch’s masks are stored, and keeps input order', async () => {
    // Prepare: a slow mask store, and a log of engine runs and mask saves.
    const events: string[] = [];
    const engine = {
      ...model.engine,
      run: async (feeds: Parameters<RuntimeModel['engine']['run']>[0]) => {
        events.push(`run ${feeds[(model.manifest.inputs.text as TokenTextInput).idsTensor].dims[0]}`);
        return model.engine.run(feeds);
      },
    };
    const masks = {
      save: async (pairId: string) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        events.push(`save ${pairId}`);
        return `${pairId}.png`;
      },
    };
    const pairs = Array.from({ length: 5 }, (_, i) => memoryPair(`p${i}`, png, 'a red circle'));
    // Act
    const records = await collect(
      runPipeline(pairs, {
        model: { ...model, engine },
        images: new SharpImageDecoder(),
        masks,
        maskFormat: 'png', // masks as PNG objects, whose writes the next batch overlaps
        batchSize: 2,
      }),
    );
    // Assess: the second batch's run starts before the first batch's masks are all saved.
    expect(records.map((r) => r.id)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4']);
    expect(events.indexOf('run 2', 1)).toBeLessThan(events.indexOf('save p1'));
  });

  it("returns a non-square image's mask at the image's original size", async () => {
    // Prepare: a wide image; the record's mask is at the original 256x128 size.
    const wide = await sharp(png).resize(256, 128, { fit: 'fill' }).png().toBuffer();
    // Act
    const [record] = await collect(
      runPipeline([memoryPair('wide', wide, 'a red circle')], { model, images: new SharpImageDecoder() }),
    );
    // Assess
    expect(record.status).toBe('ok');
    const mask = record.status === 'ok' ? record.tasks.mask : null;
    expect(mask).toMatchObject({ width: 256, height: 128, mask: null });
  });
});

describe('Function: runPipeline over a store, with a budget of bytes in flight', () => {
  let model: RuntimeModel;
  beforeAll(async () => {
    model = await loadModelBundle(referenceBundle, { engine: 'cpu', threads: 1 });
  });
  afterAll(async () => {
    await model?.engine.close();
  });

  it('holds at most the budget of image bytes between download and decode, and still gives every record', async () => {
    // Prepare: 24 noisy 800x800 PNGs (~1.9 MB each) and a budget of 4 MB: two at a time.
    const store = new MemoryStore();
    const sizes: number[] = [];
    for (let i = 0; i < 24; i++) {
      const noise = randomBytes(800 * 800 * 3); // noise does not compress: each PNG is about its raw size
      const bytes = await sharp(noise, { raw: { width: 800, height: 800, channels: 3 } })
        .png()
        .toBuffer();
      sizes.push(bytes.length);
      store.seed(`uploads/big/${i}.png`, bytes);
    }
    const budget = new ByteBudget(4_000_000);
    let held = 0;
    let mostHeld = 0;
    // Counted by the store and the decoder themselves, not by the budget under test.
    const counting = withOverrides(store, {
      get: async (key, options) => {
        const bytes = await store.get(key, options);
        held += bytes.length;
        mostHeld = Math.max(mostHeld, held);
        return bytes;
      },
    });
    const sharpDecoder = new SharpImageDecoder();
    const images: ImageDecoder = {
      decode: async (bytes, spec) => {
        try {
          return await sharpDecoder.decode(bytes, spec);
        } finally {
          held -= bytes.length;
        }
      },
    };
    const pairs = sizes.map((_, i) =>
      storePair(counting, `p${i}`, `uploads/big/${i}.png`, { inline: 'a red circle' }, undefined, budget),
    );
    // Act
    const records = await collect(runPipeline(pairs, { model, images, batchSize: 8 }));
    // Assess
    expect(records.map((r) => [r.id, r.status])).toEqual(sizes.map((_, i) => [`p${i}`, 'ok']));
    expect(Math.min(...sizes)).toBeGreaterThan(1_500_000);
    expect(mostHeld).toBeLessThanOrEqual(4_000_000);
    expect(mostHeld).toBeGreaterThan(Math.min(...sizes));
    expect(budget.peak).toBeLessThanOrEqual(4_000_000);
    expect(budget.inUse).toBe(0);
  }, 60_000);
});

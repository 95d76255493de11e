/**
 * The map kind on hand-computed tensors: values at the original size, 16-bit levels over the
 * recorded range, the statistics and the peak, what a crop leaves out, and the error metric.
 */
import { describe, expect, it } from 'vitest';
import { decodeDensePng, encodeDensePng } from '../../lambdas/adapters/image-codec.js';
import { type DecodeContext, type DenseImage, kindOf, type TruthIO } from '../../lambdas/core/kinds/index.js';
import { fromLevel, type MapTask, toLevels } from '../../lambdas/core/kinds/map.js';
import { TaskSchema } from '../../lambdas/core/manifest.js';
import { placementFor, type Size } from '../../lambdas/core/placement.js';

const task = (over: object = {}) => TaskSchema.parse({ name: 'heat', kind: 'map', output: 'o', ...over }) as MapTask;
const saved: DenseImage[] = [];
const ctx = (original: Size, mode: 'stretch' | 'cover' = 'stretch', input: Size = original): DecodeContext => ({
  original,
  input,
  placement: placementFor(mode, original, input),
  maskFormat: 'png',
  saveDense: async (_name, image) => {
    saved.push(image);
    return 'k.png';
  },
});
const slice = (values: number[], dims: number[]) => ({ values: Float32Array.from(values), dims });

describe('Kind: map decoding', () => {
  it('scales values to 16-bit levels over the range, clamping outside it', () => {
    expect(Array.from(toLevels(Float32Array.from([0, 0.5, 1, 2, -1, Number.NaN]), [0, 1]))).toEqual([
      0, 32768, 65535, 65535, 0, 0,
    ]);
    expect(Array.from(toLevels(Float32Array.from([-1, 0, 1]), [-1, 1]))).toEqual([0, 32768, 65535]);
    expect(fromLevel(65535, [-1, 1])).toBe(1);
    expect(fromLevel(0, [2, 4])).toBe(2);
  });

  it('records min, max, mean and the peak, and writes the values over their own range by default', async () => {
    // Prepare: a 2×2 plane at the image's own size, [1, 2, 2] as the seed model's heads give it.
    const t = task();
    saved.length = 0;
    // Act
    const result = await kindOf(t).decode(t, [slice([0.25, 1, 0.5, -0.5], [1, 2, 2])], ctx({ width: 2, height: 2 }));
    // Assess
    expect(result).toEqual({
      map: 'k.png',
      width: 2,
      height: 2,
      range: [-0.5, 1],
      min: -0.5,
      max: 1,
      mean: 0.3125,
      peak: { x: 1, y: 0 },
    });
    expect(Array.from(saved[0].data)).toEqual([32768, 65535, 43690, 0]);
  });

  it('applies sigmoid after upsampling, and uses a declared range', async () => {
    const t = task({ activation: 'sigmoid', range: [0, 1] });
    saved.length = 0;
    const result = await kindOf(t).decode(
      t,
      [slice([0, 0, 0, 0], [2, 2])],
      ctx({ width: 4, height: 4 }, 'stretch', { width: 2, height: 2 }),
    );
    expect(result).toMatchObject({ range: [0, 1], min: 0.5, max: 0.5, mean: 0.5 });
    expect(new Set(saved[0].data)).toEqual(new Set([32768]));
  });

  it('leaves out of the statistics what a crop cut away', async () => {
    // A 4×2 image covered into 2×2: its first and last columns were not seen (level 0, no value).
    const t = task({ range: [0, 10] });
    saved.length = 0;
    const result = await kindOf(t).decode(
      t,
      [slice([2, 4, 2, 4], [2, 2])],
      ctx({ width: 4, height: 2 }, 'cover', { width: 2, height: 2 }),
    );
    expect(result).toMatchObject({ min: 2, max: 4, mean: 3, peak: { x: 2, y: 0 } });
    expect(Array.from(saved[0].data)).toEqual([0, 13107, 26214, 0, 0, 13107, 26214, 0]);
  });

  it('round-trips a 16-bit map through its PNG', () => {
    const image: DenseImage = { kind: 'values', width: 3, height: 1, data: Uint16Array.from([0, 12345, 65535]) };
    expect(decodeDensePng(encodeDensePng(image))).toEqual(image);
  });
});

describe('Kind: map metric', () => {
  const values = (data: number[]): DenseImage => ({
    kind: 'values',
    width: data.length,
    height: 1,
    data: Uint16Array.from(data),
  });
  const io = (truth: number[], predicted: number[]): TruthIO => ({
    loadTruthImage: async () => values(truth),
    loadPredicted: async () => values(predicted),
  });

  it('measures the mean absolute error in values, each side through its own range', async () => {
    // Prepare: the prediction covers [0, 2]; the truth PNG is [0, 1] unless it says otherwise.
    const t = task({ tolerance: 0.2 });
    const kind = kindOf(t);
    const result = {
      map: 'k.png',
      width: 2,
      height: 1,
      range: [0, 2] as [number, number],
      min: 0,
      max: 2,
      mean: 1,
      peak: { x: 1, y: 0 },
    };
    // Act: predicted values 0 and 2; truth 0 and 1 (error 0.5), then 0 and 2 over [0, 2] (error 0).
    const off = await kind.score(t, result, 't.png', io([0, 65535], [0, 65535]));
    const exact = await kind.score(t, result, { png: 't.png', range: [0, 2] }, io([0, 65535], [0, 65535]));
    const tally = kind.tally(t);
    tally.add(off);
    tally.add(exact);
    // Assess
    expect(off).toMatchObject({ right: false, error: 0.5 });
    expect(exact).toMatchObject({ right: true, error: 0 });
    expect(tally.summary(2)).toMatchObject({
      metric: 'mae',
      value: 0.25,
      fraction: false,
      more: { within_tolerance: 0.5 },
    });
  });
});

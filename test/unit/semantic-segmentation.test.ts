/**
 * The semantic-segmentation kind on hand-computed tensors: the best class per pixel (ties to
 * the earlier label), the boundary shortcut against full bilinear arithmetic, class ids,
 * coverage, the palette PNG, and mean IoU over classes.
 */
import { describe, expect, it } from 'vitest';
import { decodeDensePng, encodeDensePng } from '../../lambdas/adapters/image-codec.js';
import { encodeRle } from '../../lambdas/core/coco-rle.js';
import { type DecodeContext, type DenseImage, kindOf, type TruthIO } from '../../lambdas/core/kinds/index.js';
import {
  classesFromScores,
  type SemanticSegmentationTask,
  vocColor,
} from '../../lambdas/core/kinds/semantic-segmentation.js';
import { TaskSchema } from '../../lambdas/core/manifest.js';
import { placementFor, type Size } from '../../lambdas/core/placement.js';

const task = (over: object = {}) =>
  TaskSchema.parse({
    name: 'scene',
    kind: 'semantic-segmentation',
    output: 'o',
    labels: ['background', 'cat', 'dog'],
    ...over,
  }) as SemanticSegmentationTask;

const saved: DenseImage[] = [];
const ctx = (original: Size, input: Size = original): DecodeContext => ({
  original,
  input,
  placement: placementFor('stretch', original, input),
  maskFormat: 'png',
  saveDense: async (_name, image) => {
    saved.push(image);
    return 'k.png';
  },
});
const slice = (values: number[], dims: number[]) => ({ values: Float32Array.from(values), dims });
const maskFrom = (bits: number[], size: Size) => ({ ...size, data: Uint8Array.from(bits, (b) => b * 255) });

describe('Kind: semantic-segmentation decoding', () => {
  it('takes the best class of each pixel, a tie going to the earlier label, and counts coverage', async () => {
    // Prepare: 3 classes over a 2×2 plane, at the image's own size.
    // pixel 0: dog; pixel 1: cat and dog tie (cat); pixel 2: background; pixel 3: cat.
    const scores = [
      [0, 0, 5, 0], // background
      [1, 2, 0, 3], // cat
      [4, 2, 0, 1], // dog
    ].flat();
    const t = task();
    saved.length = 0;
    // Act
    const result = await kindOf(t).decode(t, [slice(scores, [3, 2, 2])], ctx({ width: 2, height: 2 }));
    // Assess
    expect(result).toEqual({ map: 'k.png', width: 2, height: 2, coverage: { background: 0.25, cat: 0.5, dog: 0.25 } });
    expect(saved[0]).toMatchObject({ kind: 'classes', width: 2, height: 2, data: Uint8Array.from([2, 1, 0, 1]) });
  });

  it('rle: one COCO RLE per class present (none for an absent class), decoding to the map png would write', async () => {
    // Prepare: 3×2 class ids (column-major runs differ from row-major ones); no pixel is 'dog'.
    const ids = [
      [0, 1, 1],
      [1, 1, 0],
    ].flat();
    const t = task();
    const original = { width: 3, height: 2 };
    saved.length = 0;
    await kindOf(t).decode(t, [slice(ids, [2, 3])], ctx(original));
    const png = saved[0];
    saved.length = 0;
    // Act
    const result = await kindOf(t).decode(t, [slice(ids, [2, 3])], { ...ctx(original), maskFormat: 'rle' });
    // Assess
    expect(saved).toHaveLength(0);
    expect(result).toEqual({
      map: null,
      rle: {
        background: { size: [2, 3], counts: encodeRle(maskFrom([1, 0, 0, 0, 0, 1], original)).counts },
        cat: { size: [2, 3], counts: encodeRle(maskFrom([0, 1, 1, 1, 1, 0], original)).counts },
      },
      width: 3,
      height: 2,
      coverage: { background: 0.333333, cat: 0.666667, dog: 0 },
    });
    // Background down the columns is 1 0 | 0 0 | 0 1: runs 0, 1, 4, 1, written 0, 1, 4, then 1 - 1 = 0.
    expect(result.rle?.background.counts).toBe('0140');
    expect(kindOf(t).inlineDense?.(t, result)).toEqual(png);
  });

  it('decides each pixel as full bilinear arithmetic would, through every resize mode', () => {
    // Prepare: three smooth class fields on a 12×12 plane with boundaries through it.
    const mw = 12;
    const plane = mw * mw;
    const scores = new Float32Array(3 * plane).map((_, i) => {
      const [c, p] = [Math.floor(i / plane), i % plane];
      const [x, y] = [p % mw, Math.floor(p / mw)];
      return c === 0 ? 2 - Math.hypot(x - 3, y - 3) / 2 : c === 1 ? Math.sin(x / 2) + y / 6 : Math.cos(y / 3) - x / 8;
    });
    const naive = (original: Size, p: ReturnType<typeof placementFor>) => {
      const out = new Uint8Array(original.width * original.height);
      for (let v = 0; v < original.height; v++) {
        for (let u = 0; u < original.width; u++) {
          const x = (u + 0.5) * p.scaleX + p.offsetX;
          const y = (v + 0.5) * p.scaleY + p.offsetY;
          if (x < 0 || x > 24 || y < 0 || y > 24) continue;
          const sx = Math.min(Math.max((x * mw) / 24 - 0.5, 0), mw - 1);
          const sy = Math.min(Math.max((y * mw) / 24 - 0.5, 0), mw - 1);
          const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
          const [x1, y1] = [Math.min(x0 + 1, mw - 1), Math.min(y0 + 1, mw - 1)];
          const [wx, wy] = [sx - x0, sy - y0];
          let best = 0;
          let bestValue = -Infinity;
          for (let c = 0; c < 3; c++) {
            const at = (xx: number, yy: number) => scores[c * plane + yy * mw + xx];
            const value =
              (at(x0, y0) * (1 - wx) + at(x1, y0) * wx) * (1 - wy) + (at(x0, y1) * (1 - wx) + at(x1, y1) * wx) * wy;
            if (value > bestValue) [best, bestValue] = [c, value];
          }
          out[v * original.width + u] = best;
        }
      }
      return out;
    };
    for (const mode of ['stretch', 'contain', 'cover'] as const) {
      for (const original of [
        { width: 37, height: 61 },
        { width: 24, height: 24 },
        { width: 150, height: 90 },
      ]) {
        const p = placementFor(mode, original, { width: 24, height: 24 });
        // Act
        const fast = classesFromScores(scores, 3, { width: mw, height: mw }, { width: 24, height: 24 }, p, original);
        // Assess
        expect(Buffer.from(fast).equals(Buffer.from(naive(original, p))), `${mode} ${original.width}`).toBe(true);
      }
    }
  });

  it('reads class ids [h, w] by nearest neighbour', async () => {
    // A 2×2 id plane stretched onto a 4×4 image: each id fills its quarter.
    const t = task();
    saved.length = 0;
    await kindOf(t).decode(t, [slice([0, 1, 2, 1], [2, 2])], ctx({ width: 4, height: 4 }, { width: 2, height: 2 }));
    expect(Array.from(saved[0].data)).toEqual([0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 1, 1, 2, 2, 1, 1]);
  });

  it('writes an 8-bit palette PNG whose pixel values are the class indices', () => {
    // Prepare
    const image: DenseImage = {
      kind: 'classes',
      width: 3,
      height: 1,
      data: Uint8Array.from([0, 2, 1]),
      palette: [vocColor(0), vocColor(1), vocColor(2)],
    };
    // Act
    const back = decodeDensePng(encodeDensePng(image));
    // Assess
    expect(back).toEqual(image);
  });

  it('colours classes with PASCAL VOC’s colour map unless the task gives a palette', () => {
    expect([0, 1, 2, 3, 15].map(vocColor)).toEqual([
      [0, 0, 0],
      [128, 0, 0],
      [0, 128, 0],
      [128, 128, 0],
      [192, 128, 128],
    ]);
  });

  it('refuses a palette of the wrong length and a background that is not a label', () => {
    const parse = (over: object) =>
      TaskSchema.safeParse({ name: 's', kind: 'semantic-segmentation', output: 'o', labels: ['a', 'b'], ...over });
    expect(parse({ palette: [[1, 2, 3]] }).success).toBe(true); // the task alone; the manifest checks the rest
    expect(kindOf(task({ palette: [[1, 2, 3]] })).refine?.(task({ palette: [[1, 2, 3]] }))).toEqual([
      { path: ['palette'], message: 'needs one colour per label (3)' },
    ]);
    expect(kindOf(task({ background: 'sky' })).refine?.(task({ background: 'sky' }))).toEqual([
      { path: ['background'], message: "'sky' is not one of the labels" },
    ]);
  });
});

describe('Kind: semantic-segmentation metric', () => {
  const map = (data: number[]): DenseImage => ({
    kind: 'classes',
    width: data.length,
    height: 1,
    data: Uint8Array.from(data),
    palette: [],
  });
  const io = (truth: number[], predicted: number[]): TruthIO => ({
    loadTruthImage: async () => map(truth),
    loadPredicted: async () => map(predicted),
  });

  it('sums intersections and unions per class over the pairs, then averages the classes', async () => {
    // Prepare
    const t = task();
    const kind = kindOf(t);
    const result = { map: 'k.png', width: 4, height: 1, coverage: {} };
    // Act: pair a is all right; pair b has one cat pixel taken for a dog.
    const a = await kind.score(t, result, 'a.png', io([0, 1, 1, 2], [0, 1, 1, 2]));
    const b = await kind.score(t, result, 'b.png', io([0, 0, 1, 1], [0, 0, 1, 2]));
    const tally = kind.tally(t);
    tally.add(a);
    tally.add(b);
    // Assess: background 3/3, cat 3/4, dog 1/2 → mean 0.75.
    expect(a).toMatchObject({ right: true, note: 'mean IoU 1.00' });
    expect(b).toMatchObject({ note: 'mean IoU 0.50', right: true }); // background 1, cat 1/2, dog 0: 0.5
    expect(tally.summary(2)).toMatchObject({
      metric: 'mean_iou',
      value: 0.75,
      more: { iou_background: 1, iou_cat: 0.75, iou_dog: 0.5 },
      note: 'background 100.0, cat 75.0, dog 50.0',
    });
  });
});

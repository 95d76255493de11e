import { describe, expect, it } from 'vitest';
import { decodeRle, encodeRle } from '../../lambdas/core/coco-rle.js';
import { Evaluation } from '../../lambdas/core/evaluation.js';
import { maskAtOriginalSize, maskStats } from '../../lambdas/core/kinds/dense.js';
import { type BinaryMask, type DecodeContext, type DenseImage, kindOf } from '../../lambdas/core/kinds/index.js';
import type { SegmentationResult } from '../../lambdas/core/kinds/segmentation.js';
import { type ModelManifest, type Task, TaskSchema } from '../../lambdas/core/manifest.js';
import type { MaskFormat } from '../../lambdas/core/mask-format.js';
import { placementFor } from '../../lambdas/core/placement.js';
import type { OutputRecord } from '../../lambdas/core/records.js';

const ctx = (over: Partial<DecodeContext> = {}): DecodeContext => ({
  original: { width: 8, height: 8 },
  input: { width: 8, height: 8 },
  placement: { scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 },
  maskFormat: 'png',
  saveDense: async () => 'masks/p.mask.png',
  ...over,
});
const slice = (values: number[], dims = [values.length]) => ({ values: Float32Array.from(values), dims });
const task = (t: object) => TaskSchema.parse(t) as Task;

describe('Kinds: decoding', () => {
  it.each([
    {
      kind: 'classification (softmax, top-k, ties by label order)',
      task: { name: 't', kind: 'classification', output: 'o', labels: ['a', 'b', 'c'], topK: 2 },
      values: [0, Math.log(3), 0],
      expected: {
        label: 'b',
        score: 0.6,
        top: [
          { label: 'b', score: 0.6 },
          { label: 'a', score: 0.2 },
        ],
      },
    },
    {
      kind: 'multilabel (sigmoid over threshold, every score)',
      task: { name: 't', kind: 'multilabel', output: 'o', labels: ['x', 'y', 'z'], threshold: 0.5 },
      values: [2, -2, 0],
      expected: { labels: ['x', 'z'], scores: { x: 0.880797, y: 0.119203, z: 0.5 } },
    },
    {
      kind: 'score (sigmoid, with threshold)',
      task: { name: 't', kind: 'score', output: 'o', threshold: 0.9 },
      values: [Math.log(4)],
      expected: { score: 0.8, positive: false },
    },
    {
      kind: 'score (identity, no threshold)',
      task: { name: 't', kind: 'score', output: 'o', activation: 'identity' },
      values: [0.25],
      expected: { score: 0.25 },
    },
    {
      kind: 'regression',
      task: { name: 't', kind: 'regression', output: 'o' },
      values: [2.0000004],
      expected: { value: 2 },
    },
  ])('decodes $kind', async ({ task: t, values, expected }) => {
    const parsed = task(t);
    expect(await kindOf(parsed).decode(parsed, [slice(values)], ctx())).toEqual(expected);
  });

  it('decodes a segmentation output at the original size with coverage, box and the stored key', async () => {
    // Prepare: a 4x4 logit plane for an 8x8 input, positive in its top-left 2x2 cells.
    const plane = new Array(16).fill(-10);
    for (const i of [0, 1, 4, 5]) plane[i] = 10;
    const saved: string[] = [];
    const t = task({ name: 'mask', kind: 'segmentation', output: 'o', threshold: 0.5 });
    // Act: the original is 16x16, stretched to the 8x8 input.
    const result = await kindOf(t).decode(
      t,
      [slice(plane, [1, 4, 4])],
      ctx({
        original: { width: 16, height: 16 },
        placement: placementFor('stretch', { width: 16, height: 16 }, { width: 8, height: 8 }),
        saveDense: async (name, image) => {
          saved.push(`${name}:${image.kind}:${image.width}x${image.height}`);
          return 'k.png';
        },
      }),
    );
    // Assess: the positive quarter of the plane is the top-left 8x8 of the original, less its
    // inner corner pixel (7, 7), where the bilinear weights of the negative neighbours win.
    expect(saved).toEqual(['mask:mask:16x16']);
    expect(result).toEqual({
      mask: 'k.png',
      width: 16,
      height: 16,
      coverage: Math.round((63 / 256) * 1e6) / 1e6,
      box: { x: 0, y: 0, width: 8, height: 8 },
    });
  });
});

describe('Kinds: masks inline as COCO RLE', () => {
  // A 4x4 logit plane stretched onto a 6x5 original: a blob in the top-left quarter.
  const plane = new Array(16).fill(-10);
  for (const i of [0, 1, 4, 5]) plane[i] = 10;
  const segmentation = task({ name: 'mask', kind: 'segmentation', output: 'o' });
  const decodeIn = async (maskFormat: MaskFormat) => {
    const saved: DenseImage[] = [];
    const original = { width: 6, height: 5 };
    const result = (await kindOf(segmentation).decode(
      segmentation,
      [slice(plane, [1, 4, 4])],
      ctx({
        original,
        placement: placementFor('stretch', original, { width: 8, height: 8 }),
        maskFormat,
        saveDense: async (_name, image) => {
          saved.push(image);
          return 'k.png';
        },
      }),
    )) as SegmentationResult;
    return { result, saved };
  };

  it('png: the PNG key and no rle field, so records read as before', async () => {
    const { result, saved } = await decodeIn('png');
    expect(saved).toHaveLength(1);
    expect(result.mask).toBe('k.png');
    expect(Object.keys(result)).toEqual(['mask', 'width', 'height', 'coverage', 'box']);
  });

  it('rle: no PNG (mask null) and the mask as COCO RLE, which decodes to the mask png would have written', async () => {
    const png = (await decodeIn('png')).saved[0];
    const { result, saved } = await decodeIn('rle');
    expect(saved).toHaveLength(0);
    expect(result.mask).toBeNull();
    expect(result.rle).toEqual(encodeRle(png as BinaryMask));
    expect(result.rle?.size).toEqual([5, 6]);
    expect(kindOf(segmentation).inlineDense?.(segmentation, result as never)).toEqual(png);
  });

  it('both: the key and the RLE', async () => {
    const { result, saved } = await decodeIn('both');
    expect(saved).toHaveLength(1);
    expect(result).toMatchObject({ mask: 'k.png', rle: encodeRle(saved[0] as BinaryMask) });
  });

  it('scores IoU from the RLE in the record without loading a stored mask', async () => {
    // Prepare: the truth is the predicted mask less its first row.
    const { result } = await decodeIn('rle');
    const predicted = decodeRle(result.rle!);
    const truthData = predicted.data.slice();
    truthData.fill(0, 0, predicted.width);
    const manifest = { tasks: [segmentation] } as ModelManifest;
    const evaluation = new Evaluation(
      manifest,
      async () => ({ kind: 'mask', width: predicted.width, height: predicted.height, data: truthData }),
      async () => {
        throw new Error('a stored mask was read');
      },
    );
    const record = { id: 'p', status: 'ok', tasks: { mask: result } } as unknown as OutputRecord;
    // Act
    const scores = await evaluation.judge(record, { mask: 'truth.png' });
    // Assess
    const inside = (d: Uint8Array) => d.filter((v) => v > 127).length;
    const iou = inside(truthData) / inside(predicted.data);
    expect(iou).toBeLessThan(1);
    expect(scores.get('mask')).toMatchObject({ iou });
  });
});

describe('Function: maskAtOriginalSize', () => {
  it('matches bilinear upsampling with half-pixel centres', () => {
    // A 1x2 plane [-1, 1] upsampled to 1x4: samples at -0.25, 0.25, 0.75, 1.25 -> clamped.
    // Values: -1, -0.5, 0.5, 1; cut at 0 keeps the right half.
    const mask = maskAtOriginalSize(
      Float32Array.from([-1, 1]),
      { width: 2, height: 1 },
      { width: 2, height: 1 },
      { scaleX: 0.5, scaleY: 1, offsetX: 0, offsetY: 0 },
      { width: 4, height: 1 },
      0,
    );
    expect(Array.from(mask.data)).toEqual([0, 0, 255, 255]);
  });

  it('leaves outside the mask what a cover crop cut away', () => {
    // A 4x2 original covered into a 2x2 input: the middle 2 columns are seen.
    const placement = placementFor('cover', { width: 4, height: 2 }, { width: 2, height: 2 });
    const mask = maskAtOriginalSize(
      new Float32Array(4).fill(5),
      { width: 2, height: 2 },
      { width: 2, height: 2 },
      placement,
      { width: 4, height: 2 },
      0,
    );
    expect(Array.from(mask.data)).toEqual([0, 255, 255, 0, 0, 255, 255, 0]);
  });

  it('decides every pixel as full bilinear arithmetic would (the shortcut for cells on one side of the cutoff)', () => {
    // Prepare: smooth blobs with edges, values exactly at the cutoff, and several resize modes.
    const mw = 16;
    const plane = new Float32Array(mw * mw).map((_, i) => {
      const x = i % mw;
      const y = Math.floor(i / mw);
      return 6 - Math.hypot(x - 5, y - 6) * 1.3 + (x === 12 ? 0 : Math.sin(x * y));
    });
    plane[3] = 0;
    plane[4] = 0;
    const naive = (original: { width: number; height: number }, placement: ReturnType<typeof placementFor>) => {
      const data = new Uint8Array(original.width * original.height);
      for (let v = 0; v < original.height; v++) {
        for (let u = 0; u < original.width; u++) {
          const x = (u + 0.5) * placement.scaleX + placement.offsetX;
          const y = (v + 0.5) * placement.scaleY + placement.offsetY;
          if (x < 0 || x > 32 || y < 0 || y > 32) continue;
          const sx = Math.min(Math.max((x * mw) / 32 - 0.5, 0), mw - 1);
          const sy = Math.min(Math.max((y * mw) / 32 - 0.5, 0), mw - 1);
          const [x0, y0] = [Math.floor(sx), Math.floor(sy)];
          const [x1, y1] = [Math.min(x0 + 1, mw - 1), Math.min(y0 + 1, mw - 1)];
          const [wx, wy] = [sx - x0, sy - y0];
          const top = plane[y0 * mw + x0] * (1 - wx) + plane[y0 * mw + x1] * wx;
          const bottom = plane[y1 * mw + x0] * (1 - wx) + plane[y1 * mw + x1] * wx;
          if (top * (1 - wy) + bottom * wy >= 0) data[v * original.width + u] = 255;
        }
      }
      return data;
    };
    for (const mode of ['stretch', 'contain', 'cover'] as const) {
      for (const original of [
        { width: 97, height: 61 },
        { width: 32, height: 32 },
        { width: 300, height: 410 },
      ]) {
        const placement = placementFor(mode, original, { width: 32, height: 32 });
        // Act
        const mask = maskAtOriginalSize(
          plane,
          { width: mw, height: mw },
          { width: 32, height: 32 },
          placement,
          original,
          0,
        );
        // Assess
        expect(
          Buffer.from(mask.data).equals(Buffer.from(naive(original, placement))),
          `${mode} ${original.width}`,
        ).toBe(true);
      }
    }
  });

  it('gives an empty mask no box', () => {
    expect(maskStats({ width: 2, height: 2, data: new Uint8Array(4) })).toEqual({ coverage: 0, box: null });
  });
});

/**
 * `segmentation`: binary masks. One channel [N, 1, H, W] (or [N, H, W]) → a mask at the
 * original image's size (a pixel is in when activation(x) >= threshold), kept inline in the
 * record as COCO RLE, as a 1-bit PNG, or both (DecodeContext.maskFormat), with its coverage and
 * bounding box in the record.
 */
import * as z from 'zod';
import { CocoRleSchema, decodeRle, encodeRle } from '../coco-rle.js';
import { col } from '../columns.js';
import { writesPng, writesRle } from '../mask-format.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import { maskAtOriginalSize, maskStats, nearestIndex, oneChannelPlane, planeSizeOf } from './dense.js';
import {
  type BinaryMask,
  BoxSchema,
  type DenseImage,
  f2,
  type PairScore,
  percent,
  TaskBase,
  type TaskKind,
} from './kind.js';

export const SegmentationTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('segmentation'),
  /** Binary masks: one channel [N,1,H,W] (or [N,H,W]); a pixel is in the mask when activation(x) >= threshold. */
  activation: z.enum(['sigmoid', 'identity']).default('sigmoid'),
  threshold: z.number().default(0.5),
  /** What the mask shows, in words (the report's legend). */
  label: z.string().optional(),
});

export const SegmentationResultSchema = z
  .strictObject({
    mask: z.string().nullable(),
    /** Absent when masks are kept as PNGs only, so that those records read as before. */
    rle: CocoRleSchema.optional(),
    width: z.number().int(),
    height: z.number().int(),
    coverage: z.number(),
    box: BoxSchema.nullable(),
  })
  .describe(
    'segmentation: the mask PNG key (null when no PNG is written), the mask as COCO RLE (absent when masks are PNGs only), its size (the original image size), the fraction of pixels in the mask and their bounding box',
  );

export type SegmentationTask = z.infer<typeof SegmentationTaskSchema>;
export type SegmentationResult = z.infer<typeof SegmentationResultSchema>;

/** IoU from which a predicted mask counts as right. */
export const MASK_IOU_RIGHT = 0.5;
/** Opacity of a mask's inside in the report (0-255); its outline is opaque. */
const FILL_ALPHA = 90;

/** The raw-output value at which the activated value reaches the threshold. */
function rawCutoff(task: SegmentationTask): number {
  if (task.activation === 'identity') return task.threshold;
  if (task.threshold <= 0) return -Infinity;
  if (task.threshold >= 1) return Infinity;
  return Math.log(task.threshold / (1 - task.threshold)); // sigmoid is monotonic: compare logits
}

/** Intersection over union of a predicted mask (null: empty) and a target of the same size. */
export function maskIou(predicted: BinaryMask | null, target: BinaryMask): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < target.data.length; i++) {
    const p = predicted ? predicted.data[i] > 127 : false;
    const t = target.data[i] > 127;
    if (p && t) inter++;
    if (p || t) union++;
  }
  return union ? inter / union : 1;
}

const isEmpty = (mask: BinaryMask) => !mask.data.some((v) => v > 127);
const asMask = (image: DenseImage | null): BinaryMask | null => (image?.kind === 'mask' ? image : null);

/** IoU over a non-empty target; for an empty target, whether the prediction is empty too. */
interface SegmentationScore extends PairScore {
  readonly iou: number | null;
}

export const segmentation = {
  kind: 'segmentation',
  about:
    'a binary mask at the original image size (COCO RLE in the record, or a 1-bit PNG), its coverage and bounding box',
  needsImage: true,
  taskSchema: SegmentationTaskSchema,
  outputs: (task) => [oneChannelPlane(task.output)],

  resultSchema: SegmentationResultSchema,
  column: () =>
    col.struct({
      mask: col.string,
      rle: col.struct({ size: col.array(col.int), counts: col.string }),
      width: col.int,
      height: col.int,
      coverage: col.double,
      box: col.struct({ x: col.int, y: col.int, width: col.int, height: col.int }),
    }),
  async decode(task, [output], ctx) {
    const mask = maskAtOriginalSize(
      output.values,
      planeSizeOf(output.dims),
      ctx.input,
      ctx.placement,
      ctx.original,
      rawCutoff(task),
    );
    const stats = maskStats(mask);
    const key = writesPng(ctx.maskFormat) ? await ctx.saveDense(task.name, { kind: 'mask', ...mask }) : null;
    const rle = writesRle(ctx.maskFormat) ? { rle: encodeRle(mask) } : {};
    return { mask: key, ...rle, width: mask.width, height: mask.height, ...stats };
  },
  denseKey: (result) => result.mask,
  inlineDense: (_task, result) => (result.rle ? { kind: 'mask', ...decodeRle(result.rle) } : null),

  truthSchema: () => z.string().min(1),
  async score(_task, result, expected, io) {
    const target = asMask(await io.loadTruthImage(String(expected), 'mask'))!;
    if (isEmpty(target)) return { right: result.coverage === 0, iou: null };
    const iou = maskIou(asMask(await io.loadPredicted(result.mask)), target);
    return { right: iou >= MASK_IOU_RIGHT, iou, note: `IoU ${f2(iou)}` };
  },
  tally() {
    const ious: number[] = [];
    let empty = 0;
    let emptyOk = 0;
    return {
      add(s) {
        if (s.iou === null) {
          empty++;
          emptyOk += Number(s.right);
        } else {
          ious.push(s.iou);
        }
      },
      summary() {
        const emptyPredictedEmpty = empty ? emptyOk / empty : 1;
        return {
          metric: 'mean_iou',
          label: 'mean IoU',
          value: ious.length ? ious.reduce((a, b) => a + b, 0) / ious.length : 0,
          fraction: true,
          more: { empty_targets: empty, empty_predicted_empty: emptyPredictedEmpty },
          ...(empty ? { note: `empty targets predicted empty ${percent(emptyPredictedEmpty)} of ${empty}` } : {}),
        };
      },
    };
  },
  describeExpected: () => 'the true mask',

  describeTask: (task) => `${task.activation} >= ${task.threshold}, mask at the original image size`,
  cell: (result) => `coverage ${result.coverage.toFixed(3)}`,
  describe: (_task, r) => ({
    text: r.coverage ? `coverage ${percent(r.coverage)}` : 'empty',
    detail: r.box ? `box ${r.box.width}×${r.box.height} at (${r.box.x}, ${r.box.y})` : 'no box',
  }),
  chartTally(task) {
    // From 0 to the largest coverage seen: masks are often small, and [0, 1] would squash them.
    const coverage = new HistogramTally(REPORT_HISTOGRAM_BINS, { from: 0 });
    return {
      add: (r) => coverage.add(r.coverage),
      charts: () => [
        {
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: coverage`,
          axis: 'fraction of the image in the mask',
          histogram: coverage.result(),
        },
      ],
    };
  },
  overlay(_task, { dense, size, color }) {
    const mask = asMask(dense);
    if (!mask) return null;
    // Nearest neighbour keeps the mask binary at the thumbnail's size; then a solid outline
    // where the mask meets the outside and a light fill inside, so the object stays visible.
    const { width, height } = size;
    const at = nearestIndex(mask, size);
    const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && mask.data[at(x, y)] > 127;
    const rgba = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (!inside(x, y)) continue;
        const edge = !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1);
        rgba.set([color[0], color[1], color[2], edge ? 255 : FILL_ALPHA], 4 * (y * width + x));
      }
    }
    return { kind: 'raster', width, height, rgba };
  },
} satisfies TaskKind<'segmentation', SegmentationTask, SegmentationResult, SegmentationScore>;

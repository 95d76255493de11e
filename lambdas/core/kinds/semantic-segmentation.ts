/**
 * `semantic-segmentation`: a class for every pixel. Scores [N, C, H, W] (bilinear to the
 * original image, then the best class; ties go to the earlier label) or class ids [N, H, W]
 * / [N, 1, H, W] (nearest neighbour) → a class map at the original image's size, kept inline
 * as one COCO RLE mask per class present (the form of COCO's stuff segmentation results), as
 * an 8-bit PNG whose pixel values are class indices in label order (with a palette, so viewers
 * show colours), or both (DecodeContext.maskFormat); and each class's coverage in the record.
 * Metric: mean IoU over the classes (intersections and unions summed over the pairs).
 */
import * as z from 'zod';
import { type CocoRle, CocoRleSchema, decodeRle, encodeClassRles } from '../coco-rle.js';
import { col } from '../columns.js';
import { writesPng, writesRle } from '../mask-format.js';
import type { Placement, Size } from '../placement.js';
import { LabelCounts } from '../report/charts.js';
import { axisSamples, cellColumnRuns, nearestIndex, valueCounts } from './dense.js';
import {
  type DenseImage,
  f2,
  labelList,
  type PairScore,
  percent,
  type Rgb,
  round6,
  TaskBase,
  type TaskKind,
  todo,
} from './kind.js';

const rgb = z.tuple([
  z.number().int().min(0).max(255),
  z.number().int().min(0).max(255),
  z.number().int().min(0).max(255),
]);

export const SemanticSegmentationTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('semantic-segmentation'),
  /** The classes, in the order of the output's channels (or of its class ids). */
  labels: labelList.min(2),
  /** A colour per label for the PNG's palette and the report; default: the PASCAL VOC colour map. */
  palette: z.array(rgb).optional(),
  /** A label the report leaves undrawn (the scene behind the objects). */
  background: z.string().optional(),
});

export const SemanticSegmentationResultSchema = z
  .strictObject({
    map: z.string().nullable(),
    /** Each class present, by label, as a COCO RLE mask; absent when class maps are PNGs only. */
    rle: z.record(z.string(), CocoRleSchema).optional(),
    width: z.number().int(),
    height: z.number().int(),
    coverage: z.record(z.string(), z.number()),
  })
  .describe(
    "semantic-segmentation: the class map PNG key (null when not written; pixel values are class indices in label order), each class present as a COCO RLE mask by label (absent when class maps are PNGs only), its size (the original image size), and each class's fraction of the pixels",
  );

export type SemanticSegmentationTask = z.infer<typeof SemanticSegmentationTaskSchema>;
export type SemanticSegmentationResult = z.infer<typeof SemanticSegmentationResultSchema>;

/** PASCAL VOC's colour map: class i's bits spread over the high bits of red, green and blue. */
export function vocColor(index: number): Rgb {
  let [r, g, b] = [0, 0, 0];
  for (let bit = 0, c = index; bit < 8; bit++, c >>= 3) {
    r |= (c & 1) << (7 - bit);
    g |= ((c >> 1) & 1) << (7 - bit);
    b |= ((c >> 2) & 1) << (7 - bit);
  }
  return [r, g, b];
}

const paletteOf = (task: SemanticSegmentationTask): Rgb[] =>
  task.labels.map((_, i) => (task.palette?.[i] as Rgb | undefined) ?? vocColor(i));

/** Opacity of a class's colour over the thumbnail (0-255). */
const OVERLAY_ALPHA = 140;
/** Mean IoU of a pair from which it counts as right. */
export const MEAN_IOU_RIGHT = 0.5;

/**
 * The best class at every original pixel from [C, h, w] scores, bilinear as PyTorch's
 * `interpolate(align_corners=False)`. A cell whose four corners share their best class keeps
 * it everywhere between them (each class's value is the same weighted mean of its corners), so
 * only cells on a boundary need the per-pixel arithmetic.
 */
export function classesFromScores(
  scores: Float32Array,
  classes: number,
  planeSize: Size,
  input: Size,
  placement: Placement,
  original: Size,
): Uint8Array {
  const { width: w, height: h } = planeSize;
  const plane = w * h;
  const best = new Uint8Array(plane);
  for (let i = 0; i < plane; i++) {
    let top = 0;
    let topValue = scores[i];
    for (let c = 1, o = plane; c < classes; c++, o += plane) {
      if (scores[o + i] > topValue) {
        top = c;
        topValue = scores[o + i];
      }
    }
    best[i] = top;
  }
  // Per cell (its top-left corner), the class all four corners agree on, or -1: one look-up a
  // pixel instead of four, in a plain loop (a callback a pixel cost more than the arithmetic).
  const agreed = new Int16Array(plane);
  for (let y0 = 0; y0 < h; y0++) {
    const y1 = Math.min(y0 + 1, h - 1);
    for (let x0 = 0; x0 < w; x0++) {
      const x1 = Math.min(x0 + 1, w - 1);
      const a = best[y0 * w + x0];
      agreed[y0 * w + x0] = best[y0 * w + x1] === a && best[y1 * w + x0] === a && best[y1 * w + x1] === a ? a : -1;
    }
  }
  const xs = axisSamples(original.width, placement.scaleX, placement.offsetX, input.width, w);
  const ys = axisSamples(original.height, placement.scaleY, placement.offsetY, input.height, h);
  // A run of an agreed cell is one fill, and class 0 (the zeroed array) not even that.
  const runs = cellColumnRuns(xs);
  const out = new Uint8Array(original.width * original.height);
  const boundary: number[] = []; // the runs of the current cell row over boundary cells
  for (let v = 0; v < original.height; v++) {
    if (!ys.inside[v]) continue;
    const row0 = ys.lo[v] * w;
    const row1 = ys.hi[v] * w;
    const wy = ys.weight[v];
    const index = v * original.width;
    // A row in the same cells as the row above has the same agreed runs: copied at once, only
    // the runs of cells on a boundary (which depend on the row's weight) are worked out again,
    // from the list the cell row's first row made.
    const sameCells = v > 0 && ys.inside[v - 1] && ys.lo[v - 1] === ys.lo[v];
    if (sameCells) out.copyWithin(index, index - original.width, index);
    else boundary.length = 0;
    const count = sameCells ? boundary.length : runs.length / 3;
    for (let n = 0; n < count; n++) {
      const r = sameCells ? boundary[n] : 3 * n;
      const a = agreed[row0 + runs[r + 2]];
      if (a >= 0) {
        if (a) out.fill(a, index + runs[r], index + runs[r + 1]);
        continue;
      }
      if (!sameCells) boundary.push(r);
      for (let u = runs[r]; u < runs[r + 1]; u++) {
        const i00 = row0 + xs.lo[u];
        const i01 = row0 + xs.hi[u];
        const i10 = row1 + xs.lo[u];
        const i11 = row1 + xs.hi[u];
        const wx = xs.weight[u];
        let top = 0;
        let topValue = -Infinity;
        for (let c = 0; c < classes; c++) {
          const o = c * plane;
          const value =
            (scores[o + i00] * (1 - wx) + scores[o + i01] * wx) * (1 - wy) +
            (scores[o + i10] * (1 - wx) + scores[o + i11] * wx) * wy;
          if (value > topValue) {
            top = c;
            topValue = value;
          }
        }
        out[index + u] = top;
      }
    }
  }
  return out;
}

/** Class ids [h, w] at every original pixel, nearest neighbour through the placement. */
export function classesFromIds(ids: Float32Array, planeSize: Size, input: Size, placement: Placement, original: Size) {
  const xs = axisSamples(original.width, placement.scaleX, placement.offsetX, input.width, planeSize.width);
  const ys = axisSamples(original.height, placement.scaleY, placement.offsetY, input.height, planeSize.height);
  const nearest = (s: { lo: Int32Array; hi: Int32Array; weight: Float64Array }, i: number) =>
    s.weight[i] < 0.5 ? s.lo[i] : s.hi[i];
  const out = new Uint8Array(original.width * original.height);
  for (let v = 0; v < original.height; v++) {
    if (!ys.inside[v]) continue;
    const row = nearest(ys, v) * planeSize.width;
    for (let u = 0; u < original.width; u++) {
      if (xs.inside[u]) out[v * original.width + u] = Math.round(ids[row + nearest(xs, u)]);
    }
  }
  return out;
}

/**
 * One COCO RLE mask per class present, by label (absent classes are left out, as COCO leaves
 * out categories an image lacks); the classes cover every pixel once, so the map decodes exactly.
 */
function classRles(task: SemanticSegmentationTask, map: { width: number; height: number; data: Uint8Array }) {
  const out: Record<string, CocoRle> = {};
  for (const [c, rle] of encodeClassRles(map)) if (c < task.labels.length) out[task.labels[c]] = rle;
  return out;
}

/** Per-class intersections and unions of one pair. */
interface SemanticScore extends PairScore {
  readonly intersections: readonly number[];
  readonly unions: readonly number[];
}

const meanOver = (inter: readonly number[], union: readonly number[]) => {
  const present = union.flatMap((u, c) => (u > 0 ? [inter[c] / u] : []));
  return present.length ? present.reduce((a, b) => a + b, 0) / present.length : 1;
};

const asClasses = (image: DenseImage | null) => (image?.kind === 'classes' ? image : null);

export const semanticSegmentation = {
  kind: 'semantic-segmentation',
  about:
    'a class per pixel at the original image size (a COCO RLE per class in the record, or an 8-bit PNG of class indices), and each class’s coverage',
  needsImage: true,
  taskSchema: SemanticSegmentationTaskSchema,
  refine: (task) => [
    ...(new Set(task.labels).size !== task.labels.length
      ? [{ path: ['labels'], message: 'labels must be unique' }]
      : []),
    ...(task.labels.length > 256 ? [{ path: ['labels'], message: 'an 8-bit class map holds at most 256 labels' }] : []),
    ...(task.palette && task.palette.length !== task.labels.length
      ? [{ path: ['palette'], message: `needs one colour per label (${task.labels.length})` }]
      : []),
    ...(task.background !== undefined && !task.labels.includes(task.background)
      ? [{ path: ['background'], message: `'${task.background}' is not one of the labels` }]
      : []),
  ],
  outputs: (task) => [
    {
      field: 'output',
      tensor: task.output,
      types: ['float32', 'int64', 'int32'],
      shapes: [
        [task.labels.length, null, null],
        [1, null, null],
        [null, null],
      ],
    },
  ],

  resultSchema: SemanticSegmentationResultSchema,
  column: () =>
    col.struct({
      map: col.string,
      rle: col.map(col.struct({ size: col.array(col.int), counts: col.string })),
      width: col.int,
      height: col.int,
      coverage: col.map(col.double),
    }),
  async decode(task, [output], ctx) {
    const [first, ...rest] = output.dims;
    // [C, h, w] scores when C is the label count (and not a single channel of ids), else ids.
    const scores = output.dims.length === 3 && first === task.labels.length && first > 1;
    const planeSize =
      scores || output.dims.length === 3 ? { height: rest[0], width: rest[1] } : { height: first, width: rest[0] };
    const data = scores
      ? classesFromScores(output.values, first, planeSize, ctx.input, ctx.placement, ctx.original)
      : classesFromIds(output.values, planeSize, ctx.input, ctx.placement, ctx.original);
    const counts = valueCounts(data);
    const image: DenseImage = { kind: 'classes', ...ctx.original, data, palette: paletteOf(task) };
    const key = writesPng(ctx.maskFormat) ? await ctx.saveDense(task.name, image) : null;
    const rle = writesRle(ctx.maskFormat) ? { rle: classRles(task, image) } : {};
    const pixels = data.length || 1;
    return {
      map: key,
      ...rle,
      width: ctx.original.width,
      height: ctx.original.height,
      coverage: Object.fromEntries(task.labels.map((label, i) => [label, round6(counts[i] / pixels)])),
    };
  },
  denseKey: (result) => result.map,
  inlineDense(task, result) {
    if (!result.rle) return null;
    const data = new Uint8Array(result.width * result.height);
    for (const [label, rle] of Object.entries(result.rle)) {
      const index = task.labels.indexOf(label);
      const mask = decodeRle(rle);
      if (index < 0 || mask.width !== result.width || mask.height !== result.height) {
        throw new RangeError(`class '${label}': not a label of the task, or its RLE is not the map's size`);
      }
      for (let i = 0; i < data.length; i++) if (mask.data[i]) data[i] = index;
    }
    return { kind: 'classes', width: result.width, height: result.height, data, palette: paletteOf(task) };
  },

  truthSchema: () => z.string().min(1),
  async score(task, result, expected, io) {
    const target = asClasses(await io.loadTruthImage(String(expected), 'classes'))!;
    const predicted = asClasses(await io.loadPredicted(result.map));
    const n = task.labels.length;
    const intersections = new Array<number>(n).fill(0);
    const unions = new Array<number>(n).fill(0);
    for (let i = 0; i < target.data.length; i++) {
      const t = target.data[i];
      const p = predicted ? predicted.data[i] : -1;
      if (t === p) {
        intersections[t]++;
        unions[t]++;
      } else {
        if (t < n) unions[t]++;
        if (p >= 0 && p < n) unions[p]++;
      }
    }
    const mean = meanOver(intersections, unions);
    return { right: mean >= MEAN_IOU_RIGHT, note: `mean IoU ${f2(mean)}`, intersections, unions };
  },
  tally(task) {
    const inter = new Array<number>(task.labels.length).fill(0);
    const union = new Array<number>(task.labels.length).fill(0);
    return {
      add(s) {
        s.intersections.forEach((v, c) => {
          inter[c] += v;
        });
        s.unions.forEach((v, c) => {
          union[c] += v;
        });
      },
      summary() {
        const perClass = Object.fromEntries(
          task.labels.flatMap((label, c) => (union[c] ? [[`iou_${label}`, inter[c] / union[c]]] : [])),
        );
        return {
          metric: 'mean_iou',
          label: 'mean IoU over classes',
          value: meanOver(inter, union),
          fraction: true,
          more: perClass,
          note: task.labels
            .flatMap((label, c) => (union[c] ? [`${label} ${((100 * inter[c]) / union[c]).toFixed(1)}`] : []))
            .join(', '),
        };
      },
    };
  },
  describeExpected: () => 'the true class map',

  describeTask: (task) => `${task.labels.length} classes, class map at the original image size`,
  cell: (result) => {
    const top = Object.entries(result.coverage).sort((a, b) => b[1] - a[1]);
    return top
      .map(([label, share]) => `${label} ${share.toFixed(3)}`)
      .slice(0, 3)
      .join('|');
  },
  describe: (task, result) => {
    const shown = Object.entries(result.coverage)
      .filter(([label, share]) => share > 0 && label !== task.background)
      .sort((a, b) => b[1] - a[1]);
    return {
      text: shown.length
        ? shown
            .slice(0, 2)
            .map(([label, share]) => `${label} ${percent(share)}`)
            .join(', ')
        : '(none)',
      detail: Object.entries(result.coverage)
        .map(([label, share]) => `${label} ${percent(share)}`)
        .join(' · '),
    };
  },
  chartTally(task) {
    const present = new LabelCounts(task.labels);
    return {
      add(r) {
        for (const label of task.labels) if ((r.coverage[label] ?? 0) > 0) present.add(label);
      },
      charts: () => [
        {
          kind: 'bars',
          task: task.name,
          title: `${task.name}: pairs where each class appears`,
          bars: present.bars(),
        },
      ],
    };
  },
  overlay(task, { dense, size }) {
    const map = asClasses(dense);
    if (!map) return null;
    const palette = paletteOf(task);
    const hidden = task.background === undefined ? -1 : task.labels.indexOf(task.background);
    const at = nearestIndex(map, size);
    const rgba = new Uint8Array(size.width * size.height * 4);
    for (let y = 0; y < size.height; y++) {
      for (let x = 0; x < size.width; x++) {
        const c = map.data[at(x, y)];
        if (c === hidden || c >= palette.length) continue;
        rgba.set([...palette[c], OVERLAY_ALPHA], 4 * (y * size.width + x));
      }
    }
    return { kind: 'raster', width: size.width, height: size.height, rgba };
  },
  legend: (task) =>
    paletteOf(task).flatMap((color, i) =>
      task.labels[i] === task.background ? [] : [{ label: task.labels[i], color }],
    ),
  draft: (output) =>
    output.dims.length === 3 && typeof output.dims[0] === 'number' && output.dims[0] >= 2
      ? {
          task: {
            kind: 'semantic-segmentation',
            output: output.name,
            labels: Array.from({ length: output.dims[0] as number }, (_, i) => todo(`class ${i}`)),
          },
          uses: [output.name],
          notes: [`${output.dims[0]} classes in the output's channel order`],
        }
      : null,
} satisfies TaskKind<'semantic-segmentation', SemanticSegmentationTask, SemanticSegmentationResult, SemanticScore>;

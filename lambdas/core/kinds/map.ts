/**
 * `map`: a dense value per pixel (a heatmap, depth, density; the seed article's one-channel
 * task heads). One channel [N, 1, H, W] (or [N, H, W]) → values at the original image's size
 * (bilinear, then the activation), stored as a 16-bit greyscale PNG whose 0 and 65535 stand for
 * the record's `range`; the record also gives the minimum, maximum, mean and the peak's place.
 * Metric: mean absolute error against a truth map.
 */
import * as z from 'zod';
import { sigmoid } from '../activations.js';
import { col } from '../columns.js';
import type { Placement, Size } from '../placement.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import { forEachBilinearPixel, nearestIndex, oneChannelPlane, planeSizeOf } from './dense.js';
import { type DenseImage, f2, type PairScore, type Rgb, round6, TaskBase, type TaskKind } from './kind.js';

const range = z
  .tuple([z.number(), z.number()])
  .refine(([lo, hi]) => hi > lo, 'a range is [low, high] with high above low');

export const MapTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('map'),
  activation: z.enum(['identity', 'sigmoid']).default('identity'),
  /** The values the PNG's 0 and 65535 stand for; by default each map's own minimum and maximum. */
  range: range.optional(),
  /** A pair's map is right when its mean absolute error is at most this. */
  tolerance: z.number().positive().default(0.1),
  /** What the map shows, in words (the report's legend). */
  label: z.string().optional(),
});

export const MapResultSchema = z
  .strictObject({
    map: z.string().nullable(),
    width: z.number().int(),
    height: z.number().int(),
    range: z.tuple([z.number(), z.number()]),
    min: z.number(),
    max: z.number(),
    mean: z.number(),
    peak: z.object({ x: z.number().int(), y: z.number().int() }),
  })
  .describe(
    "map: the 16-bit PNG key (null when not written) whose 0 and 65535 stand for `range`, its size (the original image size), the values' minimum, maximum and mean, and the peak's pixel",
  );

export type MapTask = z.infer<typeof MapTaskSchema>;
export type MapResult = z.infer<typeof MapResultSchema>;

const FULL = 65535;

/** A [h, w] plane's values at the original image's pixels (bilinear); NaN where the model saw nothing. */
export function valuesAtOriginalSize(
  plane: Float32Array,
  planeSize: Size,
  input: Size,
  placement: Placement,
  original: Size,
): Float32Array {
  const out = new Float32Array(original.width * original.height).fill(Number.NaN);
  forEachBilinearPixel(planeSize, input, placement, original, (i, i00, i01, i10, i11, wx, wy) => {
    out[i] = (plane[i00] * (1 - wx) + plane[i01] * wx) * (1 - wy) + (plane[i10] * (1 - wx) + plane[i11] * wx) * wy;
  });
  return out;
}

/** Values as 16-bit levels over [lo, hi] (clamped; NaN and a flat range are level 0). */
export function toLevels(values: Float32Array, [lo, hi]: readonly [number, number]): Uint16Array {
  const span = hi - lo;
  return Uint16Array.from(values, (v) =>
    Number.isFinite(v) && span > 0 ? Math.min(FULL, Math.max(0, Math.round(((v - lo) / span) * FULL))) : 0,
  );
}

export const fromLevel = (level: number, [lo, hi]: readonly [number, number]) => lo + (level / FULL) * (hi - lo);

/** The report's heat colours: dark red through orange to yellow as the value rises. */
function heat(t: number): Rgb {
  return [Math.round(140 + 115 * Math.min(1, t * 2)), Math.round(255 * Math.max(0, t * 1.6 - 0.6)), 0];
}

const TruthSchema = z.union([
  z.string().min(1),
  z.object({ png: z.string().min(1), range: range.optional() }).describe('a PNG and the values its range stands for'),
]);

interface MapScore extends PairScore {
  readonly error: number;
}

const asValues = (image: DenseImage | null) => (image?.kind === 'values' ? image : null);

export const valueMap = {
  kind: 'map',
  about:
    'a value per pixel at the original image size (16-bit PNG over a recorded range), with min, max, mean and the peak',
  needsImage: true,
  taskSchema: MapTaskSchema,
  outputs: (task) => [oneChannelPlane(task.output)],

  resultSchema: MapResultSchema,
  column: () =>
    col.struct({
      map: col.string,
      width: col.int,
      height: col.int,
      range: col.array(col.double),
      min: col.double,
      max: col.double,
      mean: col.double,
      peak: col.struct({ x: col.int, y: col.int }),
    }),
  async decode(task, [output], ctx) {
    const values = valuesAtOriginalSize(
      output.values,
      planeSizeOf(output.dims),
      ctx.input,
      ctx.placement,
      ctx.original,
    );
    if (task.activation === 'sigmoid') for (let i = 0; i < values.length; i++) values[i] = sigmoid(values[i]);
    let [min, max, sum, count, peak] = [Infinity, -Infinity, 0, 0, 0];
    values.forEach((v, i) => {
      if (Number.isNaN(v)) return;
      if (v < min) min = v;
      if (v > max) [max, peak] = [v, i];
      sum += v;
      count++;
    });
    if (!count) [min, max] = [0, 0];
    const span: [number, number] = task.range ?? [round6(min), round6(max)];
    const key = await ctx.saveDense(task.name, { kind: 'values', ...ctx.original, data: toLevels(values, span) });
    return {
      map: key,
      width: ctx.original.width,
      height: ctx.original.height,
      range: span,
      min: round6(min),
      max: round6(max),
      mean: round6(count ? sum / count : 0),
      peak: { x: peak % ctx.original.width, y: Math.floor(peak / ctx.original.width) },
    };
  },
  denseKey: (result) => result.map,

  truthSchema: () => TruthSchema,
  async score(task, result, expected, io) {
    const truth = expected as z.infer<typeof TruthSchema>;
    const ref = typeof truth === 'string' ? truth : truth.png;
    const truthRange = (typeof truth === 'string' ? undefined : truth.range) ?? [0, 1];
    const target = asValues(await io.loadTruthImage(ref, 'values'))!;
    const predicted = asValues(await io.loadPredicted(result.map));
    if (!predicted) return { right: false, error: Number.POSITIVE_INFINITY, note: 'no stored map to compare' };
    if (predicted.width !== target.width || predicted.height !== target.height) {
      throw new RangeError(
        `truth map ${ref} is ${target.width}×${target.height}, the prediction ${predicted.width}×${predicted.height}`,
      );
    }
    let sum = 0;
    for (let i = 0; i < target.data.length; i++) {
      sum += Math.abs(fromLevel(predicted.data[i], result.range) - fromLevel(target.data[i], truthRange));
    }
    const error = sum / Math.max(1, target.data.length);
    return { right: error <= task.tolerance, error, note: `mean absolute error ${error.toFixed(3)}` };
  },
  tally() {
    let sum = 0;
    let right = 0;
    let n = 0;
    return {
      add(s) {
        sum += s.error;
        right += Number(s.right);
        n++;
      },
      summary: () => ({
        metric: 'mae',
        label: 'mean absolute error',
        value: n ? sum / n : 0,
        fraction: false,
        more: { within_tolerance: n ? right / n : 0 },
        note: `${n ? ((100 * right) / n).toFixed(1) : '0.0'} % of pairs within the tolerance`,
      }),
    };
  },
  describeExpected: () => 'the true map',

  describeTask: (task) =>
    `${task.activation}, 16-bit map at the original image size over ${task.range ? `[${task.range.join(', ')}]` : 'each map’s own range'}`,
  cell: (result) => `max ${result.max.toFixed(3)} at (${result.peak.x}, ${result.peak.y})`,
  describe: (_task, r) => ({
    text: `peak ${f2(r.max)} at (${r.peak.x}, ${r.peak.y})`,
    detail: `min ${f2(r.min)} · mean ${f2(r.mean)} · max ${f2(r.max)}`,
  }),
  chartTally(task) {
    const range = task.activation === 'sigmoid' ? ([0, 1] as const) : undefined;
    const peaks = new HistogramTally(REPORT_HISTOGRAM_BINS, range);
    const means = new HistogramTally(REPORT_HISTOGRAM_BINS, range);
    return {
      add(r) {
        peaks.add(r.max);
        means.add(r.mean);
      },
      charts: () => [
        {
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: peak value`,
          axis: 'maximum of each map',
          histogram: peaks.result(),
        },
        {
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: mean value`,
          axis: 'mean of each map',
          histogram: means.result(),
        },
      ],
    };
  },
  overlay(_task, { dense, size }) {
    const values = asValues(dense);
    if (!values) return null;
    // Colour and opacity both rise with the value, so low values leave the image visible.
    const at = nearestIndex(values, size);
    const rgba = new Uint8Array(size.width * size.height * 4);
    for (let y = 0; y < size.height; y++) {
      for (let x = 0; x < size.width; x++) {
        const t = values.data[at(x, y)] / FULL;
        rgba.set([...heat(t), Math.round(150 * t)], 4 * (y * size.width + x));
      }
    }
    return { kind: 'raster', width: size.width, height: size.height, rgba };
  },
  legend: (task) => [
    { label: `${task.label ? `${task.label}: ` : ''}low`, color: heat(0.1) },
    { label: 'high', color: heat(1) },
  ],
  draft: (output) =>
    output.dims.length === 3 && output.dims[0] === 1
      ? {
          task: { kind: 'map', output: output.name, activation: 'sigmoid' },
          uses: [output.name],
          notes: [
            'read as a map of values through sigmoid; use identity for raw values, or make it a segmentation if it is a mask',
          ],
        }
      : null,
} satisfies TaskKind<'map', MapTask, MapResult, MapScore>;

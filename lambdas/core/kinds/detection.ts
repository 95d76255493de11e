/**
 * `detection`: boxes with labels and scores, in the forms real exports use:
 * - boxes [N, K, 4] with per-class scores [N, K, C] (YOLO-style heads, DETR's logits); or
 * - boxes [N, K, 4] with scores [N, K] and integer labels [N, K] (torchvision, exports with NMS
 *   inside); or scores [N, K] alone for a one-label detector.
 * Boxes are `xyxy`, `xywh` or `cxcywh`, normalised to [0, 1] or in model-input pixels. Scores go
 * through the activation, the threshold, optional NMS (all boxes or per label) and the cap;
 * then boxes go back through the resize (stretch, letterbox, crop) into the original image's
 * pixels, clipped to it. Record: the detections, best first.
 * Metric: COCO's mAP@0.5 and mAP@0.5:0.95 (101-point interpolated precision, averaged over
 * the labels that have true boxes).
 */
import * as z from 'zod';
import { sigmoid, softmax } from '../activations.js';
import { col } from '../columns.js';
import type { Placement, Size } from '../placement.js';
import type { ChartSpec } from '../report/charts.js';
import { LabelCounts } from '../report/charts.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import {
  type DraftOutput,
  f2,
  labelList,
  type PairScore,
  round6,
  TaskBase,
  type TaskKind,
  tensorName,
  todo,
} from './kind.js';

export const DetectionTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('detection'),
  /** `output` is the boxes tensor [N, K, 4]; this one holds the scores, [N, K] or [N, K, C]. */
  scores: tensorName,
  /** Integer labels [N, K] (indices into `labels`), beside scores [N, K]. */
  classes: tensorName.optional(),
  labels: labelList,
  boxFormat: z.enum(['xyxy', 'xywh', 'cxcywh']).default('xyxy'),
  /** `pixels`: in the model input's pixels; `normalized`: fractions of its width and height. */
  boxUnits: z.enum(['pixels', 'normalized']).default('pixels'),
  /** softmax is taken over the labels of each box (per-class scores only). */
  activation: z.enum(['sigmoid', 'softmax', 'identity']).default('identity'),
  scoreThreshold: z.number().default(0.5),
  maxDetections: z.number().int().positive().default(100),
  /** Non-maximum suppression; leave it out when the model already suppresses. */
  nms: z
    .object({
      iou: z.number().gt(0).max(1).default(0.5),
      /** Only boxes of the same label suppress each other. */
      perClass: z.boolean().default(true),
    })
    .optional(),
});

const DetectedBoxSchema = z.object({ x: z.number(), y: z.number(), width: z.number(), height: z.number() });

export const DetectionResultSchema = z
  .array(z.strictObject({ label: z.string(), score: z.number(), box: DetectedBoxSchema }))
  .describe(
    "detection: the boxes found, best first: label, score and box (x, y from the top left, width, height) in the original image's pixels",
  );

export type DetectionTask = z.infer<typeof DetectionTaskSchema>;
export type DetectionResult = z.infer<typeof DetectionResultSchema>;
type Box = z.infer<typeof DetectedBoxSchema>;

/** IoU thresholds of mAP@0.5:0.95; the first is mAP@0.5's. */
const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);
const round2 = (x: number) => Math.round(x * 100) / 100;

export function boxIou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  const inter = Math.max(0, w) * Math.max(0, h);
  const union = a.width * a.height + b.width * b.height - inter;
  return union > 0 ? inter / union : 0;
}

/** One raw box as corners in model-input pixels. */
function corners(task: DetectionTask, v: ArrayLike<number>, input: Size): [number, number, number, number] {
  const [a, b, c, d] = [v[0], v[1], v[2], v[3]];
  let [x0, y0, x1, y1] =
    task.boxFormat === 'xyxy'
      ? [a, b, c, d]
      : task.boxFormat === 'xywh'
        ? [a, b, a + c, b + d]
        : [a - c / 2, b - d / 2, a + c / 2, b + d / 2];
  if (task.boxUnits === 'normalized')
    [x0, y0, x1, y1] = [x0 * input.width, y0 * input.height, x1 * input.width, y1 * input.height];
  return [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)];
}

/** Model-input corners back into the original image (undoing the resize), clipped to it. */
function toOriginal([x0, y0, x1, y1]: [number, number, number, number], p: Placement, original: Size): Box {
  const clipX = (x: number) => Math.min(Math.max((x - p.offsetX) / p.scaleX, 0), original.width);
  const clipY = (y: number) => Math.min(Math.max((y - p.offsetY) / p.scaleY, 0), original.height);
  const [ox0, oy0, ox1, oy1] = [clipX(x0), clipY(y0), clipX(x1), clipY(y1)];
  return { x: ox0, y: oy0, width: ox1 - ox0, height: oy1 - oy0 };
}

interface Candidate {
  readonly k: number;
  readonly label: number;
  readonly score: number;
  readonly corners: [number, number, number, number];
}

const cornerIou = (a: Candidate['corners'], b: Candidate['corners']) =>
  boxIou(
    { x: a[0], y: a[1], width: a[2] - a[0], height: a[3] - a[1] },
    { x: b[0], y: b[1], width: b[2] - b[0], height: b[3] - b[1] },
  );

/** Greedy NMS on candidates sorted best first. */
function suppress(sorted: readonly Candidate[], iou: number, perClass: boolean, cap: number): Candidate[] {
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length === cap) break;
    if (kept.some((k) => (!perClass || k.label === c.label) && cornerIou(k.corners, c.corners) > iou)) continue;
    kept.push(c);
  }
  return kept;
}

/** A pair's detections against its true boxes, at every IoU threshold. */
interface DetectionScore extends PairScore {
  /** Per detection, best first: its label, score and whether it matched at each threshold. */
  readonly detections: readonly { readonly label: string; readonly score: number; readonly tp: readonly boolean[] }[];
  /** True boxes by label. */
  readonly truths: ReadonlyMap<string, number>;
}

/** COCO's matching: best first, each detection takes the unmatched true box of its label with the highest IoU ≥ t. */
function match(result: DetectionResult, truth: readonly { label: string; box: Box }[], t: number): boolean[] {
  const taken = new Array<boolean>(truth.length).fill(false);
  return result.map((d) => {
    let best = -1;
    let bestIou = t;
    truth.forEach((g, i) => {
      if (taken[i] || g.label !== d.label) return;
      const iou = boxIou(d.box, g.box);
      if (iou >= bestIou) [best, bestIou] = [i, iou];
    });
    if (best >= 0) taken[best] = true;
    return best >= 0;
  });
}

/** COCO's 101-point interpolated average precision of one label's detections. */
export function averagePrecision(detections: readonly { score: number; tp: boolean }[], truths: number): number {
  if (!truths) return 0;
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const precision: number[] = [];
  const recall: number[] = [];
  let tp = 0;
  sorted.forEach((d, i) => {
    tp += Number(d.tp);
    precision.push(tp / (i + 1));
    recall.push(tp / truths);
  });
  // The precision envelope: at each recall, the best precision at that recall or beyond.
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
  let sum = 0;
  for (let r = 0; r <= 100; r++) {
    const i = recall.findIndex((x) => x >= r / 100 - 1e-12);
    sum += i >= 0 ? precision[i] : 0;
  }
  return sum / 101;
}

const TruthSchema = (task: DetectionTask) =>
  z.array(z.object({ label: z.enum(task.labels as [string, ...string[]]), box: DetectedBoxSchema }));

export const detection = {
  kind: 'detection',
  about: "boxes with labels and scores, best first, in the original image's pixels",
  needsImage: true,
  taskSchema: DetectionTaskSchema,
  refine: (task) =>
    new Set(task.labels).size !== task.labels.length ? [{ path: ['labels'], message: 'labels must be unique' }] : [],
  outputs: (task) => [
    { field: 'output', tensor: task.output, shapes: [[null, 4]] },
    { field: 'scores', tensor: task.scores, shapes: task.classes ? [[null]] : [[null], [null, task.labels.length]] },
    ...(task.classes
      ? [{ field: 'classes', tensor: task.classes, types: ['int64', 'int32', 'float32'], shapes: [[null]] }]
      : []),
  ],
  checkGraph(task, shapes) {
    const issues = [];
    const k = shapes.get('output')?.[1];
    for (const field of ['scores', 'classes']) {
      const other = shapes.get(field)?.[1];
      if (typeof k === 'number' && k > 0 && typeof other === 'number' && other > 0 && other !== k) {
        issues.push({ path: [field], message: `has ${other} boxes per image, the boxes output ${k}` });
      }
    }
    const scoreRank = shapes.get('scores')?.length;
    if (scoreRank === 2 && task.activation === 'softmax') {
      issues.push({ path: ['activation'], message: 'softmax needs per-class scores [batch, K, C]' });
    }
    if (scoreRank === 2 && !task.classes && task.labels.length > 1) {
      issues.push({
        path: ['classes'],
        message: `scores [batch, K] carry no label: name the labels output, or give per-class scores [batch, K, ${task.labels.length}]`,
      });
    }
    return issues;
  },

  resultSchema: DetectionResultSchema,
  column: () =>
    col.array(
      col.struct({
        label: col.string,
        score: col.double,
        box: col.struct({ x: col.double, y: col.double, width: col.double, height: col.double }),
      }),
    ),
  decode(task, [boxes, scores, classes], ctx) {
    const k = boxes.dims[0];
    const perClass = scores.dims.length === 2 ? scores.dims[1] : 0;
    const candidates: Candidate[] = [];
    const add = (i: number, label: number, score: number) => {
      if (score < task.scoreThreshold || !(label >= 0 && label < task.labels.length)) return;
      candidates.push({
        k: i,
        label,
        score,
        corners: corners(task, boxes.values.subarray(4 * i, 4 * i + 4), ctx.input),
      });
    };
    // Score by score, not a row array each (K × C of them a pair): the same activation values.
    const values = scores.values;
    const one = task.activation === 'sigmoid' ? sigmoid : (x: number) => x;
    for (let i = 0; i < k; i++) {
      if (perClass && task.activation === 'softmax') {
        const activated = softmax(values.subarray(i * perClass, (i + 1) * perClass));
        for (let c = 0; c < perClass; c++) add(i, c, activated[c]);
      } else if (perClass) {
        for (let c = 0; c < perClass; c++) add(i, c, one(values[i * perClass + c]));
      } else {
        add(i, classes ? Math.round(classes.values[i]) : 0, one(values[i]));
      }
    }
    // Best first; ties by label order, then by the model's own order.
    candidates.sort((a, b) => b.score - a.score || a.label - b.label || a.k - b.k);
    const kept = task.nms
      ? suppress(candidates, task.nms.iou, task.nms.perClass, task.maxDetections)
      : candidates.slice(0, task.maxDetections);
    return kept.flatMap((c) => {
      const box = toOriginal(c.corners, ctx.placement, ctx.original);
      // A box wholly in a letterbox's padding or a crop's cut-off part has nothing left.
      if (box.width <= 0 || box.height <= 0) return [];
      const rounded = { x: round2(box.x), y: round2(box.y), width: round2(box.width), height: round2(box.height) };
      return [{ label: task.labels[c.label], score: round6(c.score), box: rounded }];
    });
  },

  truthSchema: TruthSchema,
  score(_task, result, expected) {
    const truth = expected as z.infer<ReturnType<typeof TruthSchema>>;
    const tps = IOU_THRESHOLDS.map((t) => match(result, truth, t));
    const truths = new Map<string, number>();
    for (const g of truth) truths.set(g.label, (truths.get(g.label) ?? 0) + 1);
    const found = tps[0].filter(Boolean).length;
    const extra = result.length - found;
    return {
      // Right: every true box found at IoU 0.5 with its label, and nothing else reported.
      right: found === truth.length && extra === 0,
      note: `${found} of ${truth.length} found${extra ? `, ${extra} extra` : ''}`,
      detections: result.map((d, i) => ({ label: d.label, score: d.score, tp: tps.map((m) => m[i]) })),
      truths,
    };
  },
  tally(task) {
    // AP needs every detection's score and matches: kept as two numbers each (the matches as
    // one bit per IoU threshold), as a large job's report holds them all until the end.
    const detections = new Map(task.labels.map((l) => [l, { scores: [] as number[], hits: [] as number[] }]));
    const truths = new Map(task.labels.map((l) => [l, 0]));
    return {
      add(s) {
        for (const d of s.detections) {
          const kept = detections.get(d.label);
          kept?.scores.push(d.score);
          kept?.hits.push(d.tp.reduce((bits, tp, t) => bits | (Number(tp) << t), 0));
        }
        for (const [label, n] of s.truths) truths.set(label, (truths.get(label) ?? 0) + n);
      },
      summary() {
        const present = task.labels.filter((l) => truths.get(l)! > 0);
        // Each present label's AP at each IoU threshold; mAP averages them over the labels.
        const ap = new Map(
          present.map((l) => [
            l,
            IOU_THRESHOLDS.map((_, t) =>
              averagePrecision(
                detections
                  .get(l)!
                  .scores.map((score, i) => ({ score, tp: ((detections.get(l)!.hits[i] >> t) & 1) === 1 })),
                truths.get(l)!,
              ),
            ),
          ]),
        );
        const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
        const perThreshold = IOU_THRESHOLDS.map((_, t) => mean(present.map((l) => ap.get(l)![t])));
        const map5095 = mean(perThreshold);
        const perLabel = Object.fromEntries(
          present.flatMap((l) => [
            [`ap_50_${l}`, ap.get(l)![0]],
            [`ap_50_95_${l}`, mean(ap.get(l)!)],
          ]),
        );
        return {
          metric: 'map_50',
          label: 'mAP@0.5',
          value: perThreshold[0],
          fraction: true,
          more: { map_50_95: map5095, ...perLabel },
          note: `mAP@0.5:0.95 ${(100 * map5095).toFixed(2)} %`,
        };
      },
    };
  },
  describeExpected: (_task, expected) => {
    const truth = expected as { label: string }[];
    return truth.length ? truth.map((g) => g.label).join(', ') : '(none)';
  },

  describeTask: (task) =>
    `${task.labels.length} labels, boxes ${task.boxFormat} in ${task.boxUnits === 'pixels' ? 'input pixels' : 'fractions'}, ` +
    `${task.activation} >= ${task.scoreThreshold}, ` +
    `${task.nms ? `NMS at IoU ${task.nms.iou}${task.nms.perClass ? ' per label' : ''}` : 'no NMS'}, at most ${task.maxDetections}`,
  cell: (result) => `${result.length}: ${result.map((d) => d.label).join('|')}`,
  describe: (_task, result) => ({
    text: result.length ? result.map((d) => d.label).join(', ') : '(none)',
    detail: result
      .map(
        (d) =>
          `${d.label} ${f2(d.score)} ${Math.round(d.box.width)}×${Math.round(d.box.height)} at (${Math.round(d.box.x)}, ${Math.round(d.box.y)})`,
      )
      .join(' · '),
  }),
  chartTally(task) {
    const labels = new LabelCounts(task.labels);
    const scores = new HistogramTally(REPORT_HISTOGRAM_BINS, task.activation === 'identity' ? undefined : [0, 1]);
    return {
      add(result) {
        for (const d of result) {
          labels.add(d.label);
          scores.add(d.score);
        }
      },
      charts: (): ChartSpec[] => [
        { kind: 'bars', task: task.name, title: `${task.name}: boxes by label`, bars: labels.bars() },
        {
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: box scores`,
          axis: 'score of every box',
          histogram: scores.result(),
        },
      ],
    };
  },
  overlay: (_task, { result }) => ({
    kind: 'boxes',
    boxes: result.map((d) => ({ ...d.box, label: `${d.label} ${f2(d.score)}` })),
  }),
  draft(output, all) {
    const [k, width] = output.dims;
    if (output.dims.length !== 2 || width !== 4) return null;
    const sameK = (o: DraftOutput) => o.name !== output.name && o.dims[0] === k;
    const scores =
      all.find((o) => sameK(o) && o.type === 'float32' && o.dims.length === 2) ??
      all.find((o) => sameK(o) && o.type === 'float32' && o.dims.length === 1);
    if (!scores) return null;
    const classes =
      scores.dims.length === 1 ? all.find((o) => sameK(o) && o.type !== 'float32' && o.dims.length === 1) : undefined;
    const count = typeof scores.dims[1] === 'number' ? scores.dims[1] : 1;
    return {
      task: {
        kind: 'detection',
        output: output.name,
        scores: scores.name,
        ...(classes ? { classes: classes.name } : {}),
        labels: Array.from({ length: classes ? 1 : count }, (_, i) => todo(`label ${i}`)),
        boxFormat: 'xyxy',
        boxUnits: 'pixels',
        activation: scores.dims.length === 2 ? 'sigmoid' : 'identity',
        scoreThreshold: 0.5,
      },
      uses: [output.name, scores.name, ...(classes ? [classes.name] : [])],
      notes: [
        `boxes '${output.name}' with scores '${scores.name}'${classes ? ` and labels '${classes.name}'` : ''}`,
        classes ? 'every label, in the order of the label ids' : `${count} labels in the scores' order`,
        'boxFormat (xyxy, xywh, cxcywh) and boxUnits (pixels, normalized) are guesses: check your export',
        'add nms (e.g. {"iou": 0.5}) unless the model suppresses overlapping boxes itself',
      ],
    };
  },
} satisfies TaskKind<'detection', DetectionTask, DetectionResult, DetectionScore>;

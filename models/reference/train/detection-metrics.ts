/**
 * Metrics of the `objects` (detection) and `scene` (semantic segmentation) tasks, as
 * train/detection_metrics.py computes them from PyTorch (see its docstring): COCO-style mAP
 * (candidates of sigmoid score >= 0.05, boxes mapped to the delivered image as the `stretch`
 * resize does, class-agnostic NMS at IoU 0.5, at most 20 per image, 101-point interpolated AP
 * per class, mean over the classes present) and the scene's per-class IoU summed over a split.
 */

export const MIN_SCORE = 0.05;
export const NMS_IOU = 0.5;
export const MAX_DETECTIONS = 20;
const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);

/** x0, y0, x1, y1 in pixels. */
export type Box = [number, number, number, number];

export interface Detection {
  box: Box;
  label: number;
  score: number;
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  const inter = Math.max(w, 0) * Math.max(h, 0);
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/** One image's outputs (boxes [K*4] cxcywh normalised, score logits [K*C]) as detections, best first. */
export function decode(boxes: Float32Array, logits: Float32Array, classes: number, width: number, height: number) {
  const candidates: Detection[] = [];
  const k = boxes.length / 4;
  for (let cell = 0; cell < k; cell++) {
    for (let c = 0; c < classes; c++) {
      const score = 1 / (1 + Math.exp(-logits[cell * classes + c]));
      if (score < MIN_SCORE) continue;
      const [cx, cy, w, h] = boxes.subarray(cell * 4, cell * 4 + 4);
      const box: Box = [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height];
      candidates.push({ box, label: c, score });
    }
  }
  candidates.sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const d of candidates) {
    if (kept.length === MAX_DETECTIONS) break;
    if (kept.every((k) => iou(k.box, d.box) < NMS_IOU)) kept.push(d);
  }
  return kept;
}

/** COCO's 101-point interpolated AP of detections ranked by score. */
function averagePrecision(dets: { score: number; tp: boolean }[], truths: number): number {
  dets.sort((a, b) => b.score - a.score);
  const recall: number[] = [];
  const precision: number[] = [];
  let tp = 0;
  dets.forEach((d, i) => {
    tp += Number(d.tp);
    recall.push(tp / truths);
    precision.push(tp / (i + 1));
  });
  for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i], precision[i + 1]);
  let total = 0;
  for (let j = 0; j <= 100; j++) {
    const r = j / 100;
    const k = recall.findIndex((v) => v >= r);
    total += k >= 0 ? precision[k] : 0;
  }
  return total / 101;
}

export class DetectionAP {
  private readonly images: { dets: Detection[]; truth: { box: Box; label: number }[] }[] = [];

  add(dets: Detection[], truth: { box: Box; label: number }[]) {
    this.images.push({ dets, truth });
  }

  ap(cls: number, threshold: number): number {
    const ranked: { score: number; tp: boolean }[] = [];
    let truths = 0;
    for (const image of this.images) {
      const truth = image.truth.filter((t) => t.label === cls);
      truths += truth.length;
      const matched = truth.map(() => false);
      const dets = image.dets.filter((d) => d.label === cls).sort((a, b) => b.score - a.score);
      for (const d of dets) {
        let best = -1;
        let bestIou = threshold;
        truth.forEach((t, j) => {
          const v = iou(d.box, t.box);
          if (!matched[j] && v >= bestIou) {
            best = j;
            bestIou = v;
          }
        });
        if (best >= 0) matched[best] = true;
        ranked.push({ score: d.score, tp: best >= 0 });
      }
    }
    return truths ? averagePrecision(ranked, truths) : Number.NaN;
  }

  summary(labels: string[]) {
    const perClass: Record<string, { ap50: number; ap50_95: number }> = {};
    labels.forEach((name, c) => {
      const aps = IOU_THRESHOLDS.map((t) => this.ap(c, t));
      if (!Number.isNaN(aps[0]))
        perClass[name] = { ap50: aps[0], ap50_95: aps.reduce((a, b) => a + b, 0) / aps.length };
    });
    const rows = Object.values(perClass);
    const mean = (f: (r: { ap50: number; ap50_95: number }) => number) =>
      rows.reduce((a, r) => a + f(r), 0) / rows.length;
    return {
      objects_map50: mean((r) => r.ap50),
      objects_map50_95: mean((r) => r.ap50_95),
      objects_per_class: perClass,
    };
  }
}

export class SceneIoU {
  private readonly inter: number[];
  private readonly union: number[];

  constructor(classes: number) {
    this.inter = new Array(classes).fill(0);
    this.union = new Array(classes).fill(0);
  }

  add(predicted: ArrayLike<number>, truth: ArrayLike<number>) {
    for (let i = 0; i < predicted.length; i++) {
      const p = predicted[i];
      const t = truth[i];
      if (p === t) {
        this.inter[p]++;
        this.union[p]++;
      } else {
        this.union[p]++;
        this.union[t]++;
      }
    }
  }

  summary(labels: string[]) {
    const ious = labels.map((_, c) => (this.union[c] > 0 ? this.inter[c] / this.union[c] : Number.NaN));
    const present = ious.filter((v) => !Number.isNaN(v));
    return {
      scene_mean_iou: present.reduce((a, b) => a + b, 0) / present.length,
      scene_iou_per_class: Object.fromEntries(labels.map((name, c) => [name, ious[c]])),
    };
  }
}

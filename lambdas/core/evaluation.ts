/**
 * Scores result records against ground truth, task by task, by kind: for a truth line
 * `{ "id": ..., "<task name>": <expected>, ... }`:
 * - classification: the expected label; accuracy of the top label;
 * - multilabel: the expected label set; micro-F1;
 * - regression: the expected number; accuracy after rounding;
 * - score: 0 or 1; accuracy of (score >= threshold, or 0.5);
 * - segmentation: a mask (read through `loadMask`); mean IoU over non-empty targets, and the
 *   share of empty targets predicted empty.
 */
import type { BinaryMask } from './decoders/index.js';
import type { ModelManifest, Task } from './manifest.js';
import type {
  ClassificationResult,
  MultilabelResult,
  OutputRecord,
  RegressionResult,
  ScoreResult,
  SegmentationResult,
} from './records.js';

export interface TaskMetrics {
  readonly task: string;
  readonly kind: Task['kind'];
  /** accuracy, micro-F1 or mean IoU, by kind. */
  readonly metric: 'accuracy' | 'micro_f1' | 'mean_iou';
  readonly value: number;
  readonly pairs: number;
  /** segmentation only: empty targets, and the share of them predicted empty. */
  readonly emptyTargets?: number;
  readonly emptyPredictedEmpty?: number;
}

export type TruthMaskLoader = (ref: string) => Promise<BinaryMask>;
/** The mask a record predicted, by pair id, task name and the record's mask key (null when not stored). */
export type PredictedMaskLoader = (pairId: string, task: string, key: string | null) => Promise<BinaryMask | null>;

interface Tally {
  pairs: number;
  correct: number;
  tp: number;
  fp: number;
  fn: number;
  ious: number[];
  empty: number;
  emptyOk: number;
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

export class Evaluation {
  private readonly tallies = new Map<string, Tally>();

  constructor(
    private readonly manifest: ModelManifest,
    private readonly loadTruthMask: TruthMaskLoader,
    private readonly loadPredictedMask: PredictedMaskLoader,
  ) {
    for (const task of manifest.tasks) {
      this.tallies.set(task.name, { pairs: 0, correct: 0, tp: 0, fp: 0, fn: 0, ious: [], empty: 0, emptyOk: 0 });
    }
  }

  /** Adds one record; error records and tasks the truth does not mention are skipped. */
  async add(record: OutputRecord, truth: Record<string, unknown>): Promise<void> {
    if (record.status !== 'ok') return;
    for (const task of this.manifest.tasks) {
      const expected = truth[task.name];
      const result = record.tasks[task.name];
      if (expected === undefined || expected === null || !result) continue;
      const t = this.tallies.get(task.name)!;
      t.pairs++;
      switch (task.kind) {
        case 'classification':
          t.correct += Number((result as ClassificationResult).label === expected);
          break;
        case 'multilabel': {
          const predicted = new Set((result as MultilabelResult).labels);
          const actual = new Set(expected as string[]);
          for (const label of task.labels) {
            if (predicted.has(label) && actual.has(label)) t.tp++;
            else if (predicted.has(label)) t.fp++;
            else if (actual.has(label)) t.fn++;
          }
          break;
        }
        case 'regression':
          t.correct += Number(Math.round((result as RegressionResult).value) === expected);
          break;
        case 'score': {
          const cut = task.threshold ?? 0.5;
          t.correct += Number(Number((result as ScoreResult).score >= cut) === Number(expected));
          break;
        }
        case 'segmentation': {
          const target = await this.loadTruthMask(String(expected));
          const predicted = await this.loadPredictedMask(record.id, task.name, (result as SegmentationResult).mask);
          if (isEmpty(target)) {
            t.empty++;
            t.emptyOk += Number((result as SegmentationResult).coverage === 0);
          } else {
            t.ious.push(maskIou(predicted, target));
          }
          break;
        }
      }
    }
  }

  summary(): TaskMetrics[] {
    return this.manifest.tasks.map((task): TaskMetrics => {
      const t = this.tallies.get(task.name)!;
      if (task.kind === 'multilabel') {
        return {
          task: task.name,
          kind: task.kind,
          metric: 'micro_f1',
          value: (2 * t.tp) / Math.max(1, 2 * t.tp + t.fp + t.fn),
          pairs: t.pairs,
        };
      }
      if (task.kind === 'segmentation') {
        return {
          task: task.name,
          kind: task.kind,
          metric: 'mean_iou',
          value: t.ious.length ? t.ious.reduce((a, b) => a + b, 0) / t.ious.length : 0,
          pairs: t.pairs,
          emptyTargets: t.empty,
          emptyPredictedEmpty: t.empty ? t.emptyOk / t.empty : 1,
        };
      }
      return {
        task: task.name,
        kind: task.kind,
        metric: 'accuracy',
        value: t.pairs ? t.correct / t.pairs : 0,
        pairs: t.pairs,
      };
    });
  }
}

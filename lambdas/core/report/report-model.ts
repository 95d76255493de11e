/**
 * What the HTML report shows, computed from records alone: the summary (pairs, errors by
 * code, per-task charts), each task's prediction in words and, with ground truth, whether it
 * is right. Images and masks are added by the caller (they need an image codec).
 */
import type { TaskMetrics } from '../evaluation.js';
import type { ModelManifest, Task } from '../manifest.js';
import type {
  ClassificationResult,
  ModelIdentity,
  MultilabelResult,
  OutputRecord,
  RegressionResult,
  ScoreResult,
  SegmentationResult,
  TaskResult,
} from '../records.js';
import type { ChartSpec } from './charts.js';
import { histogram } from './histogram.js';

/** Bins of every histogram in the report. */
export const HISTOGRAM_BINS = 20;

export interface TaskLine {
  readonly task: string;
  /** The prediction in a few words, e.g. `circle 0.99`. */
  readonly text: string;
  /** More of it (top-k, every score), shown on hover. */
  readonly detail?: string;
  /** With ground truth: right or wrong; absent when the truth has no value for the task. */
  readonly ok?: boolean;
  /** With ground truth: the expected value in words. */
  readonly expected?: string;
}

export interface ReportImage {
  /** A data: URI. */
  readonly src: string;
  readonly width: number;
  readonly height: number;
}

export interface ReportPair {
  readonly id: string;
  readonly text: string | null;
  readonly status: 'ok' | 'error';
  readonly error?: { readonly code: string; readonly message: string };
  readonly image?: ReportImage;
  /** One overlay per segmentation task, the size of `image`. */
  readonly masks?: { readonly task: string; readonly src: string }[];
  readonly tasks?: TaskLine[];
  /** With ground truth: some task is wrong. */
  readonly wrong?: boolean;
}

export interface ReportSummary {
  readonly pairs: number;
  readonly ok: number;
  readonly errors: number;
  readonly errorsByCode: { readonly code: string; readonly count: number }[];
  readonly charts: ChartSpec[];
  /** With ground truth. */
  readonly metrics?: TaskMetrics[];
  readonly wrong?: number;
}

const f2 = (x: number) => x.toFixed(2);
const percent = (x: number) => `${(100 * x).toFixed(1)} %`;

/** A task's prediction in words, and its detail. */
export function describeResult(task: Task, result: TaskResult): { text: string; detail?: string } {
  switch (task.kind) {
    case 'classification': {
      const r = result as ClassificationResult;
      return { text: `${r.label} ${f2(r.score)}`, detail: r.top.map((t) => `${t.label} ${f2(t.score)}`).join(' · ') };
    }
    case 'multilabel': {
      const r = result as MultilabelResult;
      return {
        text: r.labels.length ? r.labels.join(', ') : '(none)',
        detail: Object.entries(r.scores)
          .map(([label, score]) => `${label} ${f2(score)}`)
          .join(' · '),
      };
    }
    case 'score': {
      const r = result as ScoreResult;
      return { text: r.positive === undefined ? f2(r.score) : `${f2(r.score)} ${r.positive ? 'yes' : 'no'}` };
    }
    case 'regression':
      return { text: f2((result as RegressionResult).value) };
    case 'segmentation': {
      const r = result as SegmentationResult;
      const box = r.box ? `box ${r.box.width}×${r.box.height} at (${r.box.x}, ${r.box.y})` : 'no box';
      return { text: r.coverage ? `coverage ${percent(r.coverage)}` : 'empty', detail: box };
    }
  }
}

/** The expected value in words. */
export function describeExpected(task: Task, expected: unknown): string {
  if (task.kind === 'multilabel') return (expected as string[]).length ? (expected as string[]).join(', ') : '(none)';
  if (task.kind === 'score') return Number(expected) ? 'yes' : 'no';
  if (task.kind === 'segmentation') return 'the true mask';
  return String(expected);
}

/** IoU from which a predicted mask counts as right. */
export const MASK_IOU_RIGHT = 0.5;

/**
 * Whether one prediction is right, by the rules of core/evaluation.ts pair by pair: the top
 * label; the exact label set; the rounded value; the score against the task's threshold (or
 * 0.5); a mask with IoU of at least 0.5, or, for an empty target, an empty prediction.
 * `iou` is the mask's IoU (segmentation only; null when the target is empty).
 */
export function judge(task: Task, result: TaskResult, expected: unknown, iou?: number | null): boolean {
  switch (task.kind) {
    case 'classification':
      return (result as ClassificationResult).label === expected;
    case 'multilabel': {
      const predicted = new Set((result as MultilabelResult).labels);
      const actual = new Set(expected as string[]);
      return predicted.size === actual.size && [...actual].every((l) => predicted.has(l));
    }
    case 'regression':
      return Math.round((result as RegressionResult).value) === expected;
    case 'score':
      return Number((result as ScoreResult).score >= (task.threshold ?? 0.5)) === Number(expected);
    case 'segmentation':
      return iou === null || iou === undefined ? (result as SegmentationResult).coverage === 0 : iou >= MASK_IOU_RIGHT;
  }
}

export interface PairJudgement {
  /** Expected values by task name (a truth line). */
  readonly truth: Record<string, unknown>;
  /** IoU of each segmentation task's mask; null where the target is empty. */
  readonly ious: Record<string, number | null>;
}

/** One pair's card, without its image. */
export function reportPair(manifest: ModelManifest, record: OutputRecord, judgement?: PairJudgement): ReportPair {
  const base = { id: record.id, text: record.inputs.text };
  if (record.status === 'error') return { ...base, status: 'error', error: record.error };
  let wrong = false;
  const tasks: TaskLine[] = [];
  for (const task of manifest.tasks) {
    const result = record.tasks[task.name];
    if (!result) continue;
    const line: TaskLine = { task: task.name, ...describeResult(task, result) };
    const expected = judgement?.truth[task.name];
    if (judgement && expected !== undefined && expected !== null) {
      const iou = task.kind === 'segmentation' ? judgement.ious[task.name] : undefined;
      const ok = judge(task, result, expected, iou);
      wrong ||= !ok;
      const iouText = typeof iou === 'number' ? `IoU ${f2(iou)}` : undefined;
      tasks.push({
        ...line,
        ok,
        ...(ok ? {} : { expected: describeExpected(task, expected) }),
        ...(iouText ? { detail: [line.detail, iouText].filter(Boolean).join(' · ') } : {}),
      });
    } else {
      tasks.push(line);
    }
  }
  return { ...base, status: 'ok', tasks, ...(judgement ? { wrong } : {}) };
}

/** The charts of one task, by kind. */
export function taskCharts(task: Task, results: readonly TaskResult[]): ChartSpec[] {
  const t = task.name;
  const counts = (labels: readonly string[], has: (r: TaskResult, label: string) => boolean) =>
    labels.map((label) => ({ label, count: results.filter((r) => has(r, label)).length }));
  switch (task.kind) {
    case 'classification':
      return [
        {
          kind: 'bars',
          task: t,
          title: `${t}: label distribution`,
          bars: counts(task.labels, (r, l) => (r as ClassificationResult).label === l),
        },
        {
          kind: 'histogram',
          task: t,
          title: `${t}: top score`,
          axis: 'score of the top label',
          histogram: histogram(
            results.map((r) => (r as ClassificationResult).score),
            HISTOGRAM_BINS,
            [0, 1],
          ),
        },
      ];
    case 'multilabel':
      return [
        {
          kind: 'bars',
          task: t,
          title: `${t}: labels predicted`,
          bars: counts(task.labels, (r, l) => (r as MultilabelResult).labels.includes(l)),
        },
        {
          kind: 'histogram',
          task: t,
          title: `${t}: scores`,
          axis: 'score of every label',
          histogram: histogram(
            results.flatMap((r) => Object.values((r as MultilabelResult).scores)),
            HISTOGRAM_BINS,
            [0, 1],
          ),
        },
      ];
    case 'score': {
      const scores = results.map((r) => (r as ScoreResult).score);
      const charts: ChartSpec[] = [];
      if (task.threshold !== undefined) {
        const cut = task.threshold;
        charts.push({
          kind: 'bars',
          task: t,
          title: `${t}: at or above ${cut}`,
          bars: [
            { label: 'yes', count: scores.filter((s) => s >= cut).length },
            { label: 'no', count: scores.filter((s) => s < cut).length },
          ],
        });
      }
      const bounded = task.activation === 'sigmoid';
      charts.push({
        kind: 'histogram',
        task: t,
        title: `${t}: score`,
        axis: 'score',
        histogram: histogram(scores, HISTOGRAM_BINS, bounded ? [0, 1] : undefined),
      });
      return charts;
    }
    case 'regression':
      return [
        {
          kind: 'histogram',
          task: t,
          title: `${t}: value`,
          axis: 'value',
          histogram: histogram(
            results.map((r) => (r as RegressionResult).value),
            HISTOGRAM_BINS,
          ),
        },
      ];
    case 'segmentation': {
      const coverage = results.map((r) => (r as SegmentationResult).coverage);
      const top = Math.max(0, ...coverage);
      return [
        {
          kind: 'histogram',
          task: t,
          title: `${t}: coverage`,
          axis: 'fraction of the image in the mask',
          histogram: histogram(coverage, HISTOGRAM_BINS, [0, top > 0 ? top : 1]),
        },
      ];
    }
  }
}

/** Pairs, errors by code (most frequent first) and every task's charts; an errors chart when there are errors. */
export function summarize(manifest: ModelManifest, records: readonly OutputRecord[]): ReportSummary {
  const byCode = new Map<string, number>();
  for (const r of records) if (r.status === 'error') byCode.set(r.error.code, (byCode.get(r.error.code) ?? 0) + 1);
  const errorsByCode = [...byCode]
    .map(([code, count]) => ({ code, count }))
    .sort((a, b) => b.count - a.count || a.code.localeCompare(b.code));
  const errors = errorsByCode.reduce((n, e) => n + e.count, 0);
  const charts: ChartSpec[] = [];
  if (errors)
    charts.push({
      kind: 'bars',
      task: null,
      title: 'errors by code',
      bars: errorsByCode.map((e) => ({ label: e.code, count: e.count })),
    });
  for (const task of manifest.tasks) {
    const results = records.flatMap((r) => (r.status === 'ok' && r.tasks[task.name] ? [r.tasks[task.name]] : []));
    charts.push(...taskCharts(task, results));
  }
  return { pairs: records.length, ok: records.length - errors, errors, errorsByCode, charts };
}

/** Model identities and engines seen in the records, for the report's header. */
export function describeModels(records: readonly OutputRecord[]): string[] {
  const seen = new Set<string>();
  for (const r of records) seen.add(describeModel(r.model, r.engine));
  return [...seen].sort();
}

const describeModel = (m: ModelIdentity, engine: string) =>
  `${m.name} ${m.version} (${m.sha256.slice(0, 12)}, ${engine})`;

/**
 * What the HTML report shows, computed from records alone: the summary (pairs, errors by
 * code, per-task charts), each task's prediction in words and, with ground truth, whether it
 * is right. Images and masks are added by the caller (they need an image codec).
 */
import type { TaskMetrics } from '../evaluation.js';
import { kindOf, type PairScore, type ResultOf, resultOf, type Task } from '../kinds/index.js';
import type { ModelManifest } from '../manifest.js';
import type { ModelIdentity, OutputRecord } from '../records.js';
import type { ChartSpec } from './charts.js';

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

export type ReportOverlay =
  | { readonly task: string; readonly src: string }
  | {
      readonly task: string;
      readonly color: string;
      /** Boxes in the original image's pixels, with the original size to scale them by. */
      readonly boxes: readonly { x: number; y: number; width: number; height: number; label: string }[];
      readonly width: number;
      readonly height: number;
    };

export interface ReportPair {
  readonly id: string;
  readonly text: string | null;
  readonly status: 'ok' | 'error';
  readonly error?: { readonly code: string; readonly message: string };
  readonly image?: ReportImage;
  /** One overlay per task whose kind draws one: a picture the size of `image`, or boxes. */
  readonly overlays?: ReportOverlay[];
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

export interface PairJudgement {
  /** Expected values by task name (a truth line). */
  readonly truth: Record<string, unknown>;
  /** Each scored task's verdict, from the evaluation (one rule for the marks and the metrics). */
  readonly scores: ReadonlyMap<string, PairScore>;
}

/** One pair's card, without its image. */
export function reportPair(manifest: ModelManifest, record: OutputRecord, judgement?: PairJudgement): ReportPair {
  const base = { id: record.id, text: record.inputs.text ?? null };
  if (record.status === 'error') return { ...base, status: 'error', error: record.error };
  let wrong = false;
  const tasks: TaskLine[] = [];
  for (const task of manifest.tasks) {
    const result = resultOf(record.tasks, task);
    if (!result) continue;
    const kind = kindOf(task);
    const line: TaskLine = { task: task.name, ...kind.describe(task, result) };
    const score = judgement?.scores.get(task.name);
    if (!score) {
      tasks.push(line);
      continue;
    }
    wrong ||= !score.right;
    tasks.push({
      ...line,
      ok: score.right,
      ...(score.right ? {} : { expected: kind.describeExpected(task, judgement!.truth[task.name]) }),
      ...(score.note ? { detail: [line.detail, score.note].filter(Boolean).join(' · ') } : {}),
    });
  }
  return { ...base, status: 'ok', tasks, ...(judgement ? { wrong } : {}) };
}

/**
 * The summary of a job, built one record at a time: pairs, errors by code, every task's charts
 * (ChartTally: counts and fixed-size histograms) and the models seen. Its memory depends on the
 * tasks and their labels, never on the number of records.
 */
export class ReportTally {
  private pairs = 0;
  private readonly byCode = new Map<string, number>();
  private readonly models = new Set<string>();
  private readonly charts;

  constructor(manifest: ModelManifest) {
    this.charts = manifest.tasks.map((task) => ({ task, tally: kindOf(task).chartTally(task) }));
  }

  get count(): number {
    return this.pairs;
  }

  add(record: OutputRecord): void {
    this.pairs++;
    this.models.add(describeModel(record.model, record.engine));
    if (record.status === 'error') {
      this.byCode.set(record.error.code, (this.byCode.get(record.error.code) ?? 0) + 1);
      return;
    }
    for (const { task, tally } of this.charts) {
      const result = resultOf(record.tasks, task);
      if (result !== undefined) tally.add(result as never);
    }
  }

  /** Pairs, errors by code (most frequent first) and every task's charts; an errors chart when there are errors. */
  summary(): ReportSummary {
    const errorsByCode = [...this.byCode]
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
    for (const { tally } of this.charts) charts.push(...tally.charts());
    return { pairs: this.pairs, ok: this.pairs - errors, errors, errorsByCode, charts };
  }

  /** Model identities and engines seen in the records, for the report's header. */
  describeModels(): string[] {
    return [...this.models].sort();
  }
}

/** The summary of records held in memory (ReportTally over them). */
export function summarize(manifest: ModelManifest, records: Iterable<OutputRecord>): ReportSummary {
  const tally = new ReportTally(manifest);
  for (const r of records) tally.add(r);
  return tally.summary();
}

/** One task's charts of some results (its kind's ChartTally over them). */
export function taskCharts<T extends Task>(task: T, results: Iterable<ResultOf<T['kind']>>): ChartSpec[] {
  const tally = kindOf(task).chartTally(task);
  for (const r of results) tally.add(r);
  return tally.charts();
}

/** Model identities and engines seen in the records, for the report's header. */
export function describeModels(records: Iterable<OutputRecord>): string[] {
  const seen = new Set<string>();
  for (const r of records) seen.add(describeModel(r.model, r.engine));
  return [...seen].sort();
}

const describeModel = (m: ModelIdentity, engine: string) =>
  `${m.name} ${m.version} (${m.sha256.slice(0, 12)}, ${engine})`;

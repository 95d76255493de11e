/**
 * Scores result records against ground truth, task by task. A truth line is
 * `{ "id": ..., "<task name>": <expected>, ... }`, each value in its kind's truth form; each
 * kind's module scores one pair (right or wrong, which the report marks) and adds the pairs
 * up into its metric (accuracy, micro-F1, mean IoU, mAP, ...), so the two never disagree.
 */
import { type DenseImage, kindOf, type MetricSummary, type PairScore, type TruthIO } from './kinds/index.js';
import type { ModelManifest, Task } from './manifest.js';
import type { OutputRecord } from './records.js';

export interface TaskMetrics extends MetricSummary {
  readonly task: string;
  readonly kind: Task['kind'];
  readonly pairs: number;
}

/** A truth picture by its reference in the truth line, read as the form the kind compares. */
export type TruthImageLoader = (ref: string, form: DenseImage['kind']) => Promise<DenseImage>;
/** The dense output a record predicted, by pair id, task name and the record's key (null when not stored). */
export type PredictedLoader = (pairId: string, task: string, key: string | null) => Promise<DenseImage | null>;

export class Evaluation {
  private readonly tallies;
  private readonly pairs = new Map<string, number>();

  constructor(
    private readonly manifest: ModelManifest,
    private readonly loadTruthImage: TruthImageLoader,
    private readonly loadPredicted: PredictedLoader,
  ) {
    this.tallies = new Map(manifest.tasks.map((task) => [task.name, kindOf(task).tally(task)]));
  }

  /**
   * Adds one record, and returns each scored task's verdict; error records and tasks the truth
   * does not mention (or gives as null) are skipped.
   */
  async add(record: OutputRecord, truth: Readonly<Record<string, unknown>>): Promise<Map<string, PairScore>> {
    const scores = await this.judge(record, truth);
    this.count(scores);
    return scores;
  }

  /**
   * Each scored task's verdict on one record, without adding it up: many records can be judged
   * at once (their pictures loaded in parallel) and counted in their own order by `count`.
   */
  async judge(record: OutputRecord, truth: Readonly<Record<string, unknown>>): Promise<Map<string, PairScore>> {
    const scores = new Map<string, PairScore>();
    if (record.status !== 'ok') return scores;
    for (const task of this.manifest.tasks) {
      const expected = truth[task.name];
      const result = record.tasks[task.name];
      if (expected === undefined || expected === null || !result) continue;
      const kind = kindOf(task);
      const io: TruthIO = {
        loadTruthImage: this.loadTruthImage,
        // A picture the record carries (COCO RLE) is read from it; else the stored one by its key.
        loadPredicted: async (key) =>
          kind.inlineDense?.(task, result as never) ?? this.loadPredicted(record.id, task.name, key),
      };
      scores.set(task.name, await kind.score(task, result as never, expected, io));
    }
    return scores;
  }

  /** Adds one record's verdicts (from `judge`) to the metrics. */
  count(scores: ReadonlyMap<string, PairScore>): void {
    for (const [task, score] of scores) {
      this.tallies.get(task)!.add(score);
      this.pairs.set(task, (this.pairs.get(task) ?? 0) + 1);
    }
  }

  summary(): TaskMetrics[] {
    return this.manifest.tasks.map((task) => {
      const pairs = this.pairs.get(task.name) ?? 0;
      return { task: task.name, kind: task.kind, pairs, ...this.tallies.get(task.name)!.summary(pairs) };
    });
  }
}

/** One metric line, as `infer --truth` and `npm start` print it. */
export function formatMetric(m: TaskMetrics): string {
  const value = m.fraction ? `${(100 * m.value).toFixed(2).padStart(6)} %` : m.value.toFixed(4).padStart(8);
  return `  ${m.task.padEnd(12)} ${m.metric.padEnd(9)} ${value}  (${m.pairs} pairs${m.note ? `; ${m.note}` : ''})`;
}

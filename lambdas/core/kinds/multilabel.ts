/** `multilabel`: any number of labels, [N, C] scores → the labels over the threshold, and every score. */
import * as z from 'zod';
import { activate } from '../activations.js';
import { col } from '../columns.js';
import { LabelCounts } from '../report/charts.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import { f2, labelList, type PairScore, round6, TaskBase, type TaskKind } from './kind.js';

export const MultilabelTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('multilabel'),
  labels: labelList,
  activation: z.enum(['sigmoid', 'identity']).default('sigmoid'),
  threshold: z.number().default(0.5),
});

export const MultilabelResultSchema = z
  .strictObject({ labels: z.array(z.string()), scores: z.record(z.string(), z.number()) })
  .describe("multilabel: labels whose score reaches the threshold, and every label's score");

export type MultilabelTask = z.infer<typeof MultilabelTaskSchema>;
export type MultilabelResult = z.infer<typeof MultilabelResultSchema>;

/** A pair's counts toward micro-F1; right when the predicted set is exactly the true set. */
interface MultilabelScore extends PairScore {
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
}

export const multilabel = {
  kind: 'multilabel',
  about: 'any number of labels: those whose score reaches the threshold, and every score',
  taskSchema: MultilabelTaskSchema,
  refine: (task) =>
    new Set(task.labels).size !== task.labels.length ? [{ path: ['labels'], message: 'labels must be unique' }] : [],
  outputs: (task) => [{ field: 'output', tensor: task.output, shapes: [[task.labels.length]] }],

  resultSchema: MultilabelResultSchema,
  column: () => col.struct({ labels: col.array(col.string), scores: col.map(col.double) }),
  decode(task, [output]) {
    const scores = activate(task.activation, output.values);
    return {
      labels: task.labels.filter((_, i) => scores[i] >= task.threshold),
      scores: Object.fromEntries(task.labels.map((label, i) => [label, round6(scores[i])])),
    };
  },

  truthSchema: () => z.array(z.string()),
  score(task, result, expected) {
    const predicted = new Set(result.labels);
    const actual = new Set(expected as string[]);
    let tp = 0;
    let fp = 0;
    let fn = 0;
    for (const label of task.labels) {
      if (predicted.has(label) && actual.has(label)) tp++;
      else if (predicted.has(label)) fp++;
      else if (actual.has(label)) fn++;
    }
    const right = predicted.size === actual.size && [...actual].every((l) => predicted.has(l));
    return { right, tp, fp, fn };
  },
  tally() {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    return {
      add: (s) => {
        tp += s.tp;
        fp += s.fp;
        fn += s.fn;
      },
      summary: () => ({
        metric: 'micro_f1',
        label: 'micro-F1',
        value: (2 * tp) / Math.max(1, 2 * tp + fp + fn),
        fraction: true,
      }),
    };
  },
  describeExpected: (_task, expected) => ((expected as string[]).length ? (expected as string[]).join(', ') : '(none)'),

  describeTask: (task) => `${task.labels.length} labels, ${task.activation} >= ${task.threshold}`,
  cell: (result) => result.labels.join('|'),
  describe: (_task, r) => ({
    text: r.labels.length ? r.labels.join(', ') : '(none)',
    detail: Object.entries(r.scores)
      .map(([label, score]) => `${label} ${f2(score)}`)
      .join(' · '),
  }),
  chartTally(task) {
    const labels = new LabelCounts(task.labels);
    const scores = new HistogramTally(REPORT_HISTOGRAM_BINS, [0, 1]);
    return {
      add(r) {
        for (const label of new Set(r.labels)) labels.add(label);
        for (const s of Object.values(r.scores)) scores.add(s);
      },
      charts: () => [
        { kind: 'bars', task: task.name, title: `${task.name}: labels predicted`, bars: labels.bars() },
        {
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: scores`,
          axis: 'score of every label',
          histogram: scores.result(),
        },
      ],
    };
  },
} satisfies TaskKind<'multilabel', MultilabelTask, MultilabelResult, MultilabelScore>;

/** `score`: one number, [N] or [N, 1] → the activated score, and whether it reaches the threshold. */
import * as z from 'zod';
import { activate } from '../activations.js';
import { col } from '../columns.js';
import type { ChartSpec } from '../report/charts.js';
import { LabelCounts } from '../report/charts.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import { accuracyTally, f2, round6, TaskBase, type TaskKind } from './kind.js';

export const ScoreTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('score'),
  activation: z.enum(['sigmoid', 'identity']).default('sigmoid'),
  /** When given, the record also says whether the score reaches it. */
  threshold: z.number().optional(),
});

export const ScoreResultSchema = z
  .strictObject({ score: z.number(), positive: z.boolean().optional() })
  .describe('score: the activated score, and whether it reaches the threshold when the task has one');

export type ScoreTask = z.infer<typeof ScoreTaskSchema>;
export type ScoreResult = z.infer<typeof ScoreResultSchema>;

export const score = {
  kind: 'score',
  about: 'one number: the activated score, and whether it reaches the threshold',
  taskSchema: ScoreTaskSchema,
  outputs: (task) => [{ field: 'output', tensor: task.output, shapes: [[], [1]] }],

  resultSchema: ScoreResultSchema,
  column: () => col.struct({ score: col.double, positive: col.boolean }),
  decode(task, [output]) {
    const [value] = activate(task.activation, output.values.subarray(0, 1));
    return task.threshold === undefined
      ? { score: round6(value) }
      : { score: round6(value), positive: value >= task.threshold };
  },

  truthSchema: () => z.union([z.literal(0), z.literal(1), z.boolean()]),
  // Right when the score is on the true side of the task's threshold (0.5 without one).
  score: (task, result, expected) => ({
    right: Number(result.score >= (task.threshold ?? 0.5)) === Number(expected),
  }),
  tally: accuracyTally,
  describeExpected: (_task, expected) => (Number(expected) ? 'yes' : 'no'),

  describeTask: (task) => `${task.activation}${task.threshold === undefined ? '' : ` >= ${task.threshold}`}`,
  cell: (result) => result.score.toFixed(3),
  describe: (_task, r) => ({
    text: r.positive === undefined ? f2(r.score) : `${f2(r.score)} ${r.positive ? 'yes' : 'no'}`,
  }),
  chartTally(task) {
    const cut = task.threshold;
    const sides = new LabelCounts(['yes', 'no']);
    const scores = new HistogramTally(REPORT_HISTOGRAM_BINS, task.activation === 'sigmoid' ? [0, 1] : undefined);
    return {
      add(r) {
        if (cut !== undefined && !Number.isNaN(r.score)) sides.add(r.score >= cut ? 'yes' : 'no');
        scores.add(r.score);
      },
      charts() {
        const charts: ChartSpec[] = [];
        if (cut !== undefined) {
          charts.push({ kind: 'bars', task: task.name, title: `${task.name}: at or above ${cut}`, bars: sides.bars() });
        }
        charts.push({
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: score`,
          axis: 'score',
          histogram: scores.result(),
        });
        return charts;
      },
    };
  },
  draft: (output) =>
    output.dims.length === 0 || (output.dims.length === 1 && output.dims[0] === 1)
      ? {
          task: { kind: 'score', output: output.name, activation: 'sigmoid', threshold: 0.5 },
          uses: [output.name],
          notes: ['read as a score (a logit through sigmoid); make it a regression if it is a value'],
        }
      : null,
} satisfies TaskKind<'score', ScoreTask, ScoreResult>;

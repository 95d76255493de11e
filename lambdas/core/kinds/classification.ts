/** `classification`: one label of several, [N, C] scores → the best label and the top k. */
import * as z from 'zod';
import { activate } from '../activations.js';
import { col } from '../columns.js';
import { LabelCounts } from '../report/charts.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import { accuracyTally, f2, labelList, round6, TaskBase, type TaskKind, todo } from './kind.js';

export const ClassificationTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('classification'),
  labels: labelList.min(2),
  activation: z.enum(['softmax', 'sigmoid', 'identity']).default('softmax'),
  topK: z.number().int().positive().default(3),
});

export const LabelScoreSchema = z.object({ label: z.string(), score: z.number() });

export const ClassificationResultSchema = z
  .strictObject({ label: z.string(), score: z.number(), top: z.array(LabelScoreSchema) })
  .describe('classification: the best label, its score, and the top-k labels with scores');

export type ClassificationTask = z.infer<typeof ClassificationTaskSchema>;
export type ClassificationResult = z.infer<typeof ClassificationResultSchema>;

export const classification = {
  kind: 'classification',
  about: 'one label of several: the best label with its score, and the top k',
  taskSchema: ClassificationTaskSchema,
  refine: (task) => [
    ...(new Set(task.labels).size !== task.labels.length
      ? [{ path: ['labels'], message: 'labels must be unique' }]
      : []),
    ...(task.topK > task.labels.length
      ? [{ path: ['topK'], message: `topK (${task.topK}) exceeds the number of labels (${task.labels.length})` }]
      : []),
  ],
  outputs: (task) => [{ field: 'output', tensor: task.output, shapes: [[task.labels.length]] }],

  resultSchema: ClassificationResultSchema,
  column: () =>
    col.struct({
      label: col.string,
      score: col.double,
      top: col.array(col.struct({ label: col.string, score: col.double })),
    }),
  decode(task, [output]) {
    const scores = activate(task.activation, output.values);
    const top = scores
      .map((score, i) => ({ label: task.labels[i], score: round6(score) }))
      .sort((a, b) => b.score - a.score || task.labels.indexOf(a.label) - task.labels.indexOf(b.label))
      .slice(0, task.topK);
    return { label: top[0].label, score: top[0].score, top };
  },

  truthSchema: () => z.string(),
  score: (_task, result, expected) => ({ right: result.label === expected }),
  tally: accuracyTally,
  describeExpected: (_task, expected) => String(expected),

  describeTask: (task) => `${task.labels.length} labels, ${task.activation}, top ${task.topK}`,
  cell: (result) => `${result.label} (${result.score.toFixed(3)})`,
  describe: (_task, r) => ({
    text: `${r.label} ${f2(r.score)}`,
    detail: r.top.map((t) => `${t.label} ${f2(t.score)}`).join(' · '),
  }),
  chartTally(task) {
    const labels = new LabelCounts(task.labels);
    const top = new HistogramTally(REPORT_HISTOGRAM_BINS, [0, 1]);
    return {
      add(r) {
        labels.add(r.label);
        top.add(r.score);
      },
      charts: () => [
        { kind: 'bars', task: task.name, title: `${task.name}: label distribution`, bars: labels.bars() },
        {
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: top score`,
          axis: 'score of the top label',
          histogram: top.result(),
        },
      ],
    };
  },
  draft: (output) =>
    output.dims.length === 1 && typeof output.dims[0] === 'number' && output.dims[0] >= 2 && output.dims[0] < 128
      ? {
          task: {
            kind: 'classification',
            output: output.name,
            labels: Array.from({ length: output.dims[0] }, (_, i) => todo(`label ${i}`)),
            activation: 'softmax',
            topK: Math.min(3, output.dims[0]),
          },
          uses: [output.name],
          notes: [
            `${output.dims[0]} labels in the output's order`,
            'read as classification (one label); make it multilabel if the labels are independent',
          ],
        }
      : null,
} satisfies TaskKind<'classification', ClassificationTask, ClassificationResult>;

/** `regression`: one value, [N] or [N, 1] → the value. */
import * as z from 'zod';
import { col } from '../columns.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import { accuracyTally, f2, round6, TaskBase, type TaskKind } from './kind.js';

export const RegressionTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('regression'),
  activation: z.enum(['identity']).default('identity'),
});

export const RegressionResultSchema = z.strictObject({ value: z.number() }).describe('regression: the value');

export type RegressionTask = z.infer<typeof RegressionTaskSchema>;
export type RegressionResult = z.infer<typeof RegressionResultSchema>;

export const regression = {
  kind: 'regression',
  about: 'one value',
  taskSchema: RegressionTaskSchema,
  outputs: (task) => [{ field: 'output', tensor: task.output, shapes: [[], [1]] }],

  resultSchema: RegressionResultSchema,
  column: () => col.struct({ value: col.double }),
  decode: (_task, [output]) => ({ value: round6(output.values[0]) }),

  truthSchema: () => z.number(),
  // Counts are the common case: right when the value rounds to the expected number.
  score: (_task, result, expected) => ({ right: Math.round(result.value) === expected }),
  tally: accuracyTally,
  describeExpected: (_task, expected) => String(expected),

  describeTask: (task) => task.activation,
  cell: (result) => result.value.toFixed(3),
  describe: (_task, r) => ({ text: f2(r.value) }),
  chartTally(task) {
    const values = new HistogramTally(REPORT_HISTOGRAM_BINS);
    return {
      add: (r) => values.add(r.value),
      charts: () => [
        { kind: 'histogram', task: task.name, title: `${task.name}: value`, axis: 'value', histogram: values.result() },
      ],
    };
  },
} satisfies TaskKind<'regression', RegressionTask, RegressionResult>;

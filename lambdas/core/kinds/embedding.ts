/**
 * `embedding`: a vector per pair, [N, D] → its D numbers (L2-normalised when the task says so),
 * for retrieval: nearest neighbours by cosine similarity in SQL.
 * Metric: mean cosine similarity to an expected vector.
 */
import * as z from 'zod';
import { col } from '../columns.js';
import { HistogramTally, REPORT_HISTOGRAM_BINS } from '../report/histogram.js';
import { type PairScore, round6, TaskBase, type TaskKind } from './kind.js';

export const EmbeddingTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('embedding'),
  /** Scale each vector to length 1, so that a dot product is the cosine similarity. */
  normalize: z.boolean().default(false),
});

export const EmbeddingResultSchema = z
  .array(z.number())
  .min(1)
  .describe('embedding: the vector, L2-normalised when the task says so');

export type EmbeddingTask = z.infer<typeof EmbeddingTaskSchema>;
export type EmbeddingResult = z.infer<typeof EmbeddingResultSchema>;

/** Cosine similarity from which a vector counts as right. */
export const COSINE_RIGHT = 0.9;

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`vectors of ${a.length} and ${b.length} numbers`);
  const denominator = norm(a) * norm(b);
  return denominator ? a.reduce((s, x, i) => s + x * b[i], 0) / denominator : 0;
}

interface EmbeddingScore extends PairScore {
  readonly cosine: number;
}

export const embedding = {
  kind: 'embedding',
  about: 'a vector of numbers (optionally L2-normalised), for nearest-neighbour search',
  taskSchema: EmbeddingTaskSchema,
  outputs: (task) => [{ field: 'output', tensor: task.output, shapes: [[null]] }],

  resultSchema: EmbeddingResultSchema,
  column: () => col.array(col.double),
  decode(task, [output]) {
    const length = task.normalize ? norm(output.values) : 1;
    return Array.from(output.values, (x) => round6(length ? x / length : 0));
  },

  truthSchema: () => z.array(z.number()).min(1),
  score(_task, result, expected) {
    const cosine = cosineSimilarity(result, expected as number[]);
    return { right: cosine >= COSINE_RIGHT, cosine, note: `cosine ${cosine.toFixed(3)}` };
  },
  tally() {
    let sum = 0;
    let n = 0;
    return {
      add(s) {
        sum += s.cosine;
        n++;
      },
      summary: () => ({
        metric: 'mean_cosine',
        label: 'mean cosine similarity',
        value: n ? sum / n : 0,
        fraction: true,
      }),
    };
  },
  describeExpected: () => 'the expected vector',

  describeTask: (task) => `vector${task.normalize ? ', L2-normalised' : ''}`,
  cell: (result) => `[${result.length} numbers]`,
  describe: (_task, result) => ({
    text: `${result.length} numbers, length ${norm(result).toFixed(2)}`,
    detail: `${result
      .slice(0, 8)
      .map((x) => x.toFixed(3))
      .join(', ')}${result.length > 8 ? ', …' : ''}`,
  }),
  chartTally(task) {
    const norms = new HistogramTally(REPORT_HISTOGRAM_BINS);
    return {
      add: (r) => norms.add(norm(r)),
      charts: () => [
        {
          kind: 'histogram',
          task: task.name,
          title: `${task.name}: vector length`,
          axis: 'L2 norm',
          histogram: norms.result(),
        },
      ],
    };
  },
  draft: (output) =>
    output.dims.length === 1 && typeof output.dims[0] === 'number' && output.dims[0] >= 128
      ? {
          task: { kind: 'embedding', output: output.name, normalize: true },
          uses: [output.name],
          notes: [
            `read as a ${output.dims[0]}-d embedding, L2-normalised; make it a classification if these are label scores`,
          ],
        }
      : null,
} satisfies TaskKind<'embedding', EmbeddingTask, EmbeddingResult, EmbeddingScore>;

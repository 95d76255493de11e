/** The embedding kind: the vector as it is or L2-normalised, and cosine similarity as its metric. */
import { describe, expect, it } from 'vitest';
import { cosineSimilarity, type EmbeddingTask } from '../../lambdas/core/kinds/embedding.js';
import { kindOf } from '../../lambdas/core/kinds/index.js';
import { TaskSchema } from '../../lambdas/core/manifest.js';

const task = (over: object = {}) =>
  TaskSchema.parse({ name: 'vec', kind: 'embedding', output: 'o', ...over }) as EmbeddingTask;
const ctx = {
  original: { width: 1, height: 1 },
  input: { width: 1, height: 1 },
  placement: { scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 },
  maskFormat: 'png' as const,
  saveDense: async () => null,
};
const decode = (t: EmbeddingTask, values: number[]) =>
  kindOf(t).decode(t, [{ values: Float32Array.from(values), dims: [values.length] }], ctx);

describe('Kind: embedding', () => {
  it('gives the vector as it is, rounded to 6 decimals', async () => {
    expect(await decode(task(), [3, -4, 0.1234567])).toEqual([3, -4, 0.123457]);
  });

  it('scales the vector to length 1 when the task asks, and leaves a zero vector at zero', async () => {
    expect(await decode(task({ normalize: true }), [3, -4, 0])).toEqual([0.6, -0.8, 0]);
    expect(await decode(task({ normalize: true }), [0, 0])).toEqual([0, 0]);
  });

  it('scores by cosine similarity: right from 0.9, and the mean over pairs', async () => {
    // Prepare
    const t = task();
    const kind = kindOf(t);
    // Act
    const same = await kind.score(t, [1, 0], [2, 0], null as never);
    const square = await kind.score(t, [1, 0], [0, 1], null as never);
    const tally = kind.tally(t);
    tally.add(same);
    tally.add(square);
    // Assess
    expect(same).toMatchObject({ right: true, cosine: 1 });
    expect(square).toMatchObject({ right: false, cosine: 0 });
    expect(tally.summary(2)).toMatchObject({ metric: 'mean_cosine', value: 0.5 });
    expect(() => cosineSimilarity([1], [1, 2])).toThrow(RangeError);
  });
});

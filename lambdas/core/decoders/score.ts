import { activate } from '../activations.js';
import { col } from '../columns.js';
import type { Task } from '../manifest.js';
import { round6, type ScoreResult } from '../records.js';
import type { TaskDecoder } from './decoder.js';

type ScoreTask = Extract<Task, { kind: 'score' }>;

export const scoreDecoder: TaskDecoder<ScoreTask> = {
  kind: 'score',
  column: () => col.struct({ score: col.double, positive: col.boolean }),
  decode(task, output): ScoreResult {
    const [score] = activate(task.activation, output.values.subarray(0, 1));
    return task.threshold === undefined
      ? { score: round6(score) }
      : { score: round6(score), positive: score >= task.threshold };
  },
};

import { activate } from '../activations.js';
import type { Task } from '../manifest.js';
import { round6, type ScoreResult } from '../records.js';
import type { TaskDecoder } from './decoder.js';

type ScoreTask = Extract<Task, { kind: 'score' }>;

export const scoreDecoder: TaskDecoder<ScoreTask> = {
  kind: 'score',
  decode(task, output): ScoreResult {
    const [score] = activate(task.activation, output.values.subarray(0, 1));
    return task.threshold === undefined
      ? { score: round6(score) }
      : { score: round6(score), positive: score >= task.threshold };
  },
};

import { col } from '../columns.js';
import type { Task } from '../manifest.js';
import { type RegressionResult, round6 } from '../records.js';
import type { TaskDecoder } from './decoder.js';

type RegressionTask = Extract<Task, { kind: 'regression' }>;

export const regressionDecoder: TaskDecoder<RegressionTask> = {
  kind: 'regression',
  column: () => col.struct({ value: col.double }),
  decode(_task, output): RegressionResult {
    return { value: round6(output.values[0]) };
  },
};

import { activate } from '../activations.js';
import { col } from '../columns.js';
import type { Task } from '../manifest.js';
import { type MultilabelResult, round6 } from '../records.js';
import type { TaskDecoder } from './decoder.js';

type MultilabelTask = Extract<Task, { kind: 'multilabel' }>;

export const multilabelDecoder: TaskDecoder<MultilabelTask> = {
  kind: 'multilabel',
  column: () => col.struct({ labels: col.array(col.string), scores: col.map(col.double) }),
  decode(task, output): MultilabelResult {
    const scores = activate(task.activation, output.values);
    return {
      labels: task.labels.filter((_, i) => scores[i] >= task.threshold),
      scores: Object.fromEntries(task.labels.map((label, i) => [label, round6(scores[i])])),
    };
  },
};

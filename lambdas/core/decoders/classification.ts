import { activate } from '../activations.js';
import { col } from '../columns.js';
import type { Task } from '../manifest.js';
import { type ClassificationResult, round6 } from '../records.js';
import type { TaskDecoder } from './decoder.js';

type ClassificationTask = Extract<Task, { kind: 'classification' }>;

export const classificationDecoder: TaskDecoder<ClassificationTask> = {
  kind: 'classification',
  column: () =>
    col.struct({
      label: col.string,
      score: col.double,
      top: col.array(col.struct({ label: col.string, score: col.double })),
    }),
  decode(task, output): ClassificationResult {
    const scores = activate(task.activation, output.values);
    const top = scores
      .map((score, i) => ({ label: task.labels[i], score: round6(score) }))
      .sort((a, b) => b.score - a.score || task.labels.indexOf(a.label) - task.labels.indexOf(b.label))
      .slice(0, task.topK);
    return { label: top[0].label, score: top[0].score, top };
  },
};

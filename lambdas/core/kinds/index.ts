/**
 * The task kinds. A new kind is one module beside these and one line in KINDS; everything else
 * (the manifest schema, the graph check, decoding, records and their JSON Schemas, the SQL
 * columns, ground truth and metrics, the CLI and the report) iterates this registry.
 */
import * as z from 'zod';
import { classification } from './classification.js';
import { detection } from './detection.js';
import { embedding } from './embedding.js';
import type { TaskKind } from './kind.js';
import { valueMap } from './map.js';
import { multilabel } from './multilabel.js';
import { regression } from './regression.js';
import { score } from './score.js';
import { segmentation } from './segmentation.js';
import { semanticSegmentation } from './semantic-segmentation.js';

export const KINDS = [
  classification,
  multilabel,
  score,
  regression,
  segmentation,
  detection,
  semanticSegmentation,
  valueMap,
  embedding,
] as const;

type Kinds = typeof KINDS;
type AnyKind = Kinds[number];
type TaskSchemas<T extends readonly unknown[]> = {
  -readonly [I in keyof T]: T[I] extends { taskSchema: infer S } ? S : never;
};
type ResultSchemas<T extends readonly unknown[]> = {
  -readonly [I in keyof T]: T[I] extends { resultSchema: infer S } ? S : never;
};

/** Every kind's model.json entry, told apart by `kind`. */
export const TaskSchema = z.discriminatedUnion('kind', KINDS.map((k) => k.taskSchema) as unknown as TaskSchemas<Kinds>);

/** A task of any kind, as model.json declares it (defaults applied). */
export type Task = z.infer<typeof TaskSchema>;
export type TaskKindName = Task['kind'];
/** The task of one kind. */
export type TaskOf<K extends TaskKindName> = Extract<Task, { kind: K }>;
/** The result of one kind. */
export type ResultOf<K extends TaskKindName> = z.infer<Extract<AnyKind, { kind: K }>['resultSchema']>;
/** A result of any kind. */
export type TaskResult = ResultOf<TaskKindName>;

export const KIND_NAMES = KINDS.map((k) => k.kind);

const byName = new Map<string, TaskKind>(KINDS.map((k) => [k.kind, k as unknown as TaskKind]));

/** The module of a task's kind, typed for that task: the one place a task and its kind's types meet. */
export function kindOf<T extends Task>(task: T): TaskKind<T['kind'], T, ResultOf<T['kind']>> {
  return byName.get(task.kind) as unknown as TaskKind<T['kind'], T, ResultOf<T['kind']>>;
}

/** A task's result in a record, typed by the task's kind (records are validated at the boundary). */
export function resultOf<T extends Task>(
  tasks: Readonly<Record<string, TaskResult>>,
  task: T,
): ResultOf<T['kind']> | undefined {
  return tasks[task.name] as ResultOf<T['kind']> | undefined;
}

/** A result of any kind. Each kind's result schema is strict, so a result matches its own kind only. */
export const TaskResultSchema = z.union(KINDS.map((k) => k.resultSchema) as unknown as ResultSchemas<Kinds>);

/** The kind whose result schema a result matches (for records read without their manifest). */
export function kindOfResult(result: unknown): TaskKind | undefined {
  return byName.get(KINDS.find((k) => k.resultSchema.safeParse(result).success)?.kind ?? '');
}

export type {
  BinaryMask,
  DecodeContext,
  DenseImage,
  MetricSummary,
  OutputSlice,
  OutputSpec,
  Overlay,
  PairScore,
  TaskKind,
  TruthIO,
} from './kind.js';

/**
 * The model bundle manifest (model.json): everything the runtime knows about a model.
 * Nothing about a particular model lives in code; a new model with other tasks is a new
 * manifest, and a new task kind is one new decoder (decoders/).
 */
import { z } from 'zod';

const channelTriple = (name: string) =>
  z.tuple([z.number(), z.number(), z.number()], { error: `${name} needs one number per channel (3)` });

export const TASK_NAME = /^[a-z][a-z0-9_]*$/;
const taskName = z
  .string()
  .regex(TASK_NAME, 'a task name is lower-case letters, digits and _ (it becomes a SQL column)');
const tensorName = z.string().min(1);
const labels = z.array(z.string().min(1)).min(1);

const TaskBase = { name: taskName, output: tensorName, description: z.string().optional() };

export const ClassificationTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('classification'),
  labels: labels.min(2),
  activation: z.enum(['softmax', 'sigmoid', 'identity']).default('softmax'),
  topK: z.number().int().positive().default(3),
});

export const MultilabelTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('multilabel'),
  labels,
  activation: z.enum(['sigmoid', 'identity']).default('sigmoid'),
  threshold: z.number().default(0.5),
});

export const ScoreTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('score'),
  activation: z.enum(['sigmoid', 'identity']).default('sigmoid'),
  /** When given, the record also says whether the score reaches it. */
  threshold: z.number().optional(),
});

export const RegressionTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('regression'),
  activation: z.enum(['identity']).default('identity'),
});

export const SegmentationTaskSchema = z.object({
  ...TaskBase,
  kind: z.literal('segmentation'),
  /** Binary masks: one channel [N,1,H,W] (or [N,H,W]); a pixel is in the mask when activation(x) >= threshold. */
  activation: z.enum(['sigmoid', 'identity']).default('sigmoid'),
  threshold: z.number().default(0.5),
  label: z.string().optional(),
});

export const TaskSchema = z.discriminatedUnion('kind', [
  ClassificationTaskSchema,
  MultilabelTaskSchema,
  ScoreTaskSchema,
  RegressionTaskSchema,
  SegmentationTaskSchema,
]);

export const ImageInputSchema = z.object({
  tensor: tensorName,
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  /** stretch: fill exactly (aspect not kept); contain: letterbox on `background`; cover: centre crop. */
  resize: z.enum(['stretch', 'contain', 'cover']),
  resizeKernel: z.enum(['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3']).default('lanczos3'),
  channelOrder: z.enum(['rgb', 'bgr']).default('rgb'),
  layout: z.enum(['nchw', 'nhwc']).default('nchw'),
  /** Applied to values scaled to [0, 1]: (x / 255 - mean) / std. */
  mean: channelTriple('mean'),
  std: channelTriple('std').refine((s) => s.every((v) => v > 0), 'std values must be positive'),
  /** Alpha is flattened on this colour, and `contain` pads with it (0-255 RGB). */
  background: z
    .tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)])
    .default([255, 255, 255]),
});

export const TextInputSchema = z.object({
  tokenizer: z.string().min(1).default('tokenizer.json'),
  maxLength: z.number().int().positive(),
  idsTensor: tensorName,
  attentionMaskTensor: tensorName.optional(),
  /** Id used for padding; by default the tokenizer's [PAD] (or <pad>) token. */
  padTokenId: z.number().int().min(0).optional(),
});

export const ModelManifestSchema = z
  .object({
    schemaVersion: z.literal(1),
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().optional(),
    model: z.string().min(1).default('model.onnx'),
    maxBatchSize: z.number().int().positive().default(32),
    inputs: z.object({ image: ImageInputSchema, text: TextInputSchema }),
    tasks: z.array(TaskSchema).min(1),
  })
  .superRefine((m, ctx) => {
    const seen = new Map<string, number>();
    m.tasks.forEach((t, i) => {
      if (seen.has(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, 'name'], message: `duplicate task name '${t.name}'` });
      }
      seen.set(t.name, i);
      if ('labels' in t && new Set(t.labels).size !== t.labels.length) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, 'labels'], message: 'labels must be unique' });
      }
      if (t.kind === 'classification' && t.topK > t.labels.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['tasks', i, 'topK'],
          message: `topK (${t.topK}) exceeds the number of labels (${t.labels.length})`,
        });
      }
    });
  });

export type ModelManifest = z.infer<typeof ModelManifestSchema>;
export type Task = z.infer<typeof TaskSchema>;
export type TaskKind = Task['kind'];
export type ImageInput = z.infer<typeof ImageInputSchema>;
export type TextInput = z.infer<typeof TextInputSchema>;

/** Every problem of a zod error, one line each, path first. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
}

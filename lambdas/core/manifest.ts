/**
 * The model bundle manifest (model.json): everything the runtime knows about a model.
 * Nothing about a particular model lives in code; a new model with other tasks is a new
 * manifest, and a new task kind is one new module (kinds/).
 */
import { z } from 'zod';
import { kindOf, type Task, TaskSchema } from './kinds/index.js';
import { tensorName } from './kinds/kind.js';

export { type Task, type TaskKindName as TaskKind, TaskSchema } from './kinds/index.js';
export { TASK_NAME } from './kinds/kind.js';

const channelTriple = (name: string) =>
  z.tuple([z.number(), z.number(), z.number()], { error: `${name} needs one number per channel (3)` });

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
    const seen = new Set<string>();
    m.tasks.forEach((t: Task, i) => {
      if (seen.has(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, 'name'], message: `duplicate task name '${t.name}'` });
      }
      seen.add(t.name);
      for (const issue of kindOf(t).refine?.(t) ?? []) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, ...issue.path], message: issue.message });
      }
    });
  });

export type ModelManifest = z.infer<typeof ModelManifestSchema>;
export type ImageInput = z.infer<typeof ImageInputSchema>;
export type TextInput = z.infer<typeof TextInputSchema>;

/** Every problem of a zod error, one line each, path first. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
}

/**
 * The model bundle manifest (model.json): everything the runtime knows about a model.
 * Nothing about a particular model lives in code; a new model with other tasks is a new
 * manifest, and a new task kind is one new module (kinds/).
 */
import * as z from 'zod';
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

/** Text tensors are batch-first [N, L, …] (the default) or sequence-first [L, N, …] (nn.LSTM's default). */
const textLayout = z.enum(['batch-first', 'seq-first']).default('batch-first');

/** Text as token ids from a Hugging Face tokenizer.json. */
export const TokenTextInputSchema = z.object({
  tokenizer: z.string().min(1).default('tokenizer.json'),
  maxLength: z.number().int().positive(),
  idsTensor: tensorName,
  attentionMaskTensor: tensorName.optional(),
  /** Id used for padding; by default the tokenizer's [PAD] (or <pad>) token. */
  padTokenId: z.number().int().min(0).optional(),
  layout: textLayout,
  /** An int64 [N] tensor of each text's length in tokens, for models exported with packed sequences. */
  lengthsTensor: tensorName.optional(),
});

/**
 * Text as word vectors from a file in GloVe's text format (`word v1 … vD` a line; fastText's
 * `.vec` too, whose first line `count D` is skipped). Words are the text lower-cased (unless
 * `lowercase` is false) and split on whitespace and punctuation; padding is zero vectors.
 */
export const VectorTextInputSchema = z.object({
  vectors: z.string().min(1),
  tensor: tensorName,
  maxLength: z.number().int().positive(),
  layout: textLayout,
  lowercase: z.boolean().default(true),
  /** A word not in the file: a zero vector, or the vector of a word that is (e.g. `<unk>`). */
  oov: z.union([z.literal('zero'), z.object({ word: z.string().min(1) })]).default('zero'),
  lengthsTensor: tensorName.optional(),
});

/** Which form a text input takes is told by its fields: `vectors` names a word-vector file. */
export const TextInputSchema = z.unknown().transform((value, ctx) => {
  const schema =
    value && typeof value === 'object' && 'vectors' in value ? VectorTextInputSchema : TokenTextInputSchema;
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data as TokenTextInput | VectorTextInput;
  for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom', path: issue.path });
  return z.NEVER;
});

export const ModelManifestSchema = z
  .object({
    /** Written by init-model: its notes on what it guessed. A bundle in use has none. */
    draft: z
      .undefined({
        error: 'this is a draft from init-model: check each of its notes, fill in every TODO, then delete "draft"',
      })
      .optional(),
    schemaVersion: z.literal(1),
    name: z.string().min(1),
    version: z.string().min(1),
    description: z.string().optional(),
    model: z.string().min(1).default('model.onnx'),
    maxBatchSize: z.number().int().positive().default(32),
    /** The inputs the model has: an image, a text or both. */
    inputs: z
      .object({ image: ImageInputSchema.optional(), text: TextInputSchema.optional() })
      .refine(
        (i) => i.image || i.text,
        'a model reads an image, a text or both: give inputs.image, inputs.text or both',
      ),
    tasks: z.array(TaskSchema).min(1),
  })
  .superRefine((m, ctx) => {
    for (const [path, value] of strings(m)) {
      if (value.startsWith('TODO:')) ctx.addIssue({ code: 'custom', path, message: `still a placeholder: ${value}` });
    }
    const seen = new Set<string>();
    m.tasks.forEach((t: Task, i) => {
      if (seen.has(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, 'name'], message: `duplicate task name '${t.name}'` });
      }
      seen.add(t.name);
      for (const issue of kindOf(t).refine?.(t) ?? []) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, ...issue.path], message: issue.message });
      }
      if (kindOf(t).needsImage && !m.inputs.image) {
        ctx.addIssue({
          code: 'custom',
          path: ['tasks', i, 'kind'],
          message: `a ${t.kind} task gives results in the image's pixels: the model needs an image input`,
        });
      }
    });
  });

export type ModelManifest = z.infer<typeof ModelManifestSchema>;

/** Every string in a parsed value, with its path (for init-model's TODO placeholders). */
function* strings(value: unknown, path: (string | number)[] = []): Generator<[(string | number)[], string]> {
  if (typeof value === 'string') yield [path, value];
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) yield* strings(v, [...path, i]);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) yield* strings(v, [...path, k]);
}
export type ImageInput = z.infer<typeof ImageInputSchema>;
export type TokenTextInput = z.infer<typeof TokenTextInputSchema>;
export type VectorTextInput = z.infer<typeof VectorTextInputSchema>;
export type TextInput = TokenTextInput | VectorTextInput;

/** Which halves of a pair the model reads. */
export interface PairNeeds {
  readonly image: boolean;
  readonly text: boolean;
}

export const pairNeeds = (manifest: ModelManifest): PairNeeds => ({
  image: manifest.inputs.image !== undefined,
  text: manifest.inputs.text !== undefined,
});

/** The files of a bundle that the runtime reads: the manifest, the ONNX file, the tokenizer or word vectors. */
export function bundleFiles(manifest: ModelManifest): string[] {
  const text = manifest.inputs.text;
  return ['model.json', manifest.model, ...(text ? ['vectors' in text ? text.vectors : text.tokenizer] : [])];
}

/** Every problem of a zod error, one line each, path first. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`);
}

/**
 * Result and error records: one JSON line per input pair, exactly one of the two.
 * Defined once here; schemas/*.schema.json are generated from these (npm run schemas).
 * Field order is fixed by construction, so the same input and model give the same bytes
 * apart from `timing`.
 */
import { z } from 'zod';
import { ERROR_CODE_NAMES } from './errors.js';
import { ENGINE_NAMES } from './tensor.js';

export const ModelIdentitySchema = z.object({
  name: z.string(),
  version: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const LabelScoreSchema = z.object({ label: z.string(), score: z.number() });

export const ClassificationResultSchema = z
  .object({ label: z.string(), score: z.number(), top: z.array(LabelScoreSchema) })
  .describe('classification: the best label, its score, and the top-k labels with scores');
export const MultilabelResultSchema = z
  .object({ labels: z.array(z.string()), scores: z.record(z.string(), z.number()) })
  .describe("multilabel: labels whose score reaches the threshold, and every label's score");
export const ScoreResultSchema = z
  .object({ score: z.number(), positive: z.boolean().optional() })
  .describe('score: the activated score, and whether it reaches the threshold when the task has one');
export const RegressionResultSchema = z.object({ value: z.number() }).describe('regression: the value');
export const BoxSchema = z.object({
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
});
export const SegmentationResultSchema = z
  .object({
    mask: z.string().nullable(),
    width: z.number().int(),
    height: z.number().int(),
    coverage: z.number(),
    box: BoxSchema.nullable(),
  })
  .describe(
    'segmentation: the mask PNG key (null when masks are not written), its size (the original image size), the fraction of pixels in the mask and their bounding box',
  );

export const TaskResultSchema = z.union([
  ClassificationResultSchema,
  MultilabelResultSchema,
  ScoreResultSchema,
  RegressionResultSchema,
  SegmentationResultSchema,
]);

export const PairInputsSchema = z.object({
  image: z.string().nullable().describe('the image key or path'),
  text: z.string().nullable().describe('the caption as decoded, or null when it could not be read'),
});

const common = {
  id: z.string(),
  inputs: PairInputsSchema,
  extra: z.record(z.string(), z.unknown()).optional().describe('fields carried through from the manifest line'),
  model: ModelIdentitySchema,
  engine: z.enum(ENGINE_NAMES),
};

export const ResultRecordSchema = z
  .object({
    ...common,
    status: z.literal('ok'),
    tasks: z.record(z.string(), TaskResultSchema),
    timing: z.object({ ms: z.number() }).optional().describe("not part of the record's identity"),
  })
  .describe('fusebatch result record: one JSON line per pair that ran');

export const ErrorRecordSchema = z
  .object({
    ...common,
    status: z.literal('error'),
    error: z.object({ code: z.enum(ERROR_CODE_NAMES), message: z.string() }),
  })
  .describe('fusebatch error record: one JSON line per pair that could not run');

export const OutputRecordSchema = z.discriminatedUnion('status', [ResultRecordSchema, ErrorRecordSchema]);

export type ModelIdentity = z.infer<typeof ModelIdentitySchema>;
export type TaskResult = z.infer<typeof TaskResultSchema>;
export type ClassificationResult = z.infer<typeof ClassificationResultSchema>;
export type MultilabelResult = z.infer<typeof MultilabelResultSchema>;
export type ScoreResult = z.infer<typeof ScoreResultSchema>;
export type RegressionResult = z.infer<typeof RegressionResultSchema>;
export type SegmentationResult = z.infer<typeof SegmentationResultSchema>;
export type PairInputs = z.infer<typeof PairInputsSchema>;
export type ResultRecord = z.infer<typeof ResultRecordSchema>;
export type ErrorRecord = z.infer<typeof ErrorRecordSchema>;
export type OutputRecord = z.infer<typeof OutputRecordSchema>;

/** JSON Schemas of the records, for users' own tools. */
export function recordJsonSchemas(): Record<string, unknown> {
  return {
    'result-record.schema.json': z.toJSONSchema(ResultRecordSchema),
    'error-record.schema.json': z.toJSONSchema(ErrorRecordSchema),
  };
}

/** Scores are rounded to 6 decimals so records are short and stable across runs. */
export const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

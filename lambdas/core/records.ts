/**
 * Result and error records: one JSON line per input pair, exactly one of the two.
 * Defined once here; schemas/*.schema.json are generated from these (npm run schemas).
 * Field order is fixed by construction, so the same input and model give the same bytes
 * apart from `timing`.
 */
import * as z from 'zod';
import { ERROR_CODE_NAMES } from './errors.js';
import { TaskResultSchema } from './kinds/index.js';
import { ENGINE_NAMES } from './tensor.js';

export type { TaskResult } from './kinds/index.js';

export const ModelIdentitySchema = z.object({
  name: z.string(),
  version: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

export const PairInputsSchema = z
  .object({
    image: z.string().nullable().optional().describe('the image key or path'),
    text: z.string().nullable().optional().describe('the caption as decoded, or null when it could not be read'),
  })
  .describe('the inputs the model reads: a half it does not read is left out');

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

/**
 * The environment of each deployed entry point, parsed once at start with every problem
 * reported together. The CDK construct sets these variables by the same names, so the two
 * sides share one definition.
 */
import { z } from 'zod';
import { formatIssues } from '../core/manifest.js';
import { DEFAULT_MASK_FORMAT, MASK_FORMATS } from '../core/mask-format.js';
import { ENGINE_NAMES } from '../core/tensor.js';

const count = z.coerce.number().int().positive();

const CommonEnvSchema = z.object({
  FUSEBATCH_BUCKET: z.string().min(1),
  /** The model bundle folder; the Lambda packaging puts it beside the handler as model/. */
  FUSEBATCH_MODEL_DIR: z.string().min(1).optional(),
  /** An S3-compatible endpoint instead of AWS's (the embedded server, in tests and locally). */
  FUSEBATCH_S3_ENDPOINT: z.url().optional(),
  FUSEBATCH_THREADS: count.default(1),
  /** Masks and class maps inline as COCO RLE (`rle`), as PNG objects (`png`) or `both` (config masks). */
  FUSEBATCH_MASKS: z.enum(MASK_FORMATS).default(DEFAULT_MASK_FORMAT),
});

const LambdaEnvSchema = CommonEnvSchema.extend({
  FUSEBATCH_ENGINE: z.enum(ENGINE_NAMES).default('wasm'),
  /** Where ort-wasm-simd-threaded.{mjs,wasm} are: beside the handler in the Lambda package. */
  FUSEBATCH_WASM_DIR: z.string().min(1).optional(),
});

export const IngestEnvSchema = LambdaEnvSchema.extend({
  FUSEBATCH_QUEUE_URL: z.url(),
  FUSEBATCH_CHUNK_SIZE: count,
  /** How long one ingest run may hold a job: the function's timeout. */
  FUSEBATCH_INGEST_LEASE_SECONDS: count.default(900),
  /** The stack's default share of error records (in %) past which a job fails; a manifest may set its own. */
  FUSEBATCH_TOLERATED_FAILURE_PERCENT: z.coerce.number().min(0).max(100).default(100),
  /** Jobs with more pairs than this go to AWS Batch; absent when the stack has no GPU route. */
  FUSEBATCH_BATCH_THRESHOLD: count.optional(),
  FUSEBATCH_BATCH_JOB_QUEUE: z.string().min(1).optional(),
  FUSEBATCH_BATCH_JOB_DEFINITION: z.string().min(1).optional(),
  /** Estimated seconds a chunk takes on a Batch child, and the child's timeout: they size array jobs. */
  FUSEBATCH_BATCH_SECONDS_PER_CHUNK: z.coerce.number().positive().optional(),
  FUSEBATCH_BATCH_TIMEOUT_SECONDS: count.optional(),
}).superRefine((env, ctx) => {
  if (env.FUSEBATCH_BATCH_THRESHOLD === undefined) return;
  for (const name of [
    'FUSEBATCH_BATCH_JOB_QUEUE',
    'FUSEBATCH_BATCH_JOB_DEFINITION',
    'FUSEBATCH_BATCH_SECONDS_PER_CHUNK',
    'FUSEBATCH_BATCH_TIMEOUT_SECONDS',
  ] as const) {
    if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required with FUSEBATCH_BATCH_THRESHOLD' });
  }
});

export const WorkerEnvSchema = LambdaEnvSchema.extend({
  FUSEBATCH_DLQ_URL: z.url(),
  /**
   * Tries of a chunk (config worker.attempts): a chunk failing on this receive is dead-lettered
   * with its reason. The queue's own maxReceiveCount is 2 more, a backstop for crashes.
   */
  FUSEBATCH_MAX_RECEIVE_COUNT: count,
});

export const BatchWorkerEnvSchema = CommonEnvSchema.extend({
  FUSEBATCH_ENGINE: z.enum(ENGINE_NAMES).default('cuda'),
  FUSEBATCH_JOB: z.string().min(1),
  FUSEBATCH_SHARDS: count.default(1),
  /** Set by AWS Batch for each child of an array job; absent for a plain job. */
  AWS_BATCH_JOB_ARRAY_INDEX: z.coerce.number().int().min(0).default(0),
  /**
   * Seconds after its start past which a child starts no more chunks (its timeout less a margin),
   * so that it exits 1 and is retried for the rest rather than stopped by Batch, which does not retry.
   */
  FUSEBATCH_DEADLINE_SECONDS: count.optional(),
  /** The job definition's attempts, and this child's (set by AWS Batch, from 1). */
  FUSEBATCH_BATCH_ATTEMPTS: count.default(1),
  AWS_BATCH_JOB_ATTEMPT: count.default(1),
});

export type IngestEnv = z.infer<typeof IngestEnvSchema>;
export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;
export type BatchWorkerEnv = z.infer<typeof BatchWorkerEnvSchema>;

export class EnvironmentError extends Error {
  constructor(
    readonly entry: string,
    readonly problems: string[],
  ) {
    super(`${entry}: invalid environment:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'EnvironmentError';
  }
}

export function parseEnv<S extends z.ZodType>(entry: string, schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new EnvironmentError(entry, formatIssues(parsed.error));
  return parsed.data;
}

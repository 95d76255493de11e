/**
 * The environment of each deployed entry point, parsed once at start with every problem
 * reported together. The variables' names are core/env-names.ts's, which the CDK construct
 * sets; the stack test checks that it sets only what these schemas parse, and all they require.
 */
import * as z from 'zod';
import { ENV_NAMES } from '../core/env-names.js';
import { formatIssues } from '../core/manifest.js';
import { DEFAULT_MASK_FORMAT, MASK_FORMATS } from '../core/mask-format.js';
import { ENGINE_NAMES } from '../core/tensor.js';

const count = z.coerce.number().int().positive();

const CommonEnvSchema = z.object({
  [ENV_NAMES.bucket]: z.string().min(1),
  /** The model bundle folder; the Lambda packaging puts it beside the handler as model/. */
  [ENV_NAMES.modelDir]: z.string().min(1).optional(),
  /** An S3-compatible endpoint instead of AWS's (the embedded server, in tests and locally). */
  [ENV_NAMES.s3Endpoint]: z.url().optional(),
  [ENV_NAMES.threads]: count.default(1),
  /** Masks and class maps inline as COCO RLE (`rle`), as PNG objects (`png`) or `both` (config masks). */
  [ENV_NAMES.masks]: z.enum(MASK_FORMATS).default(DEFAULT_MASK_FORMAT),
});

const LambdaEnvSchema = CommonEnvSchema.extend({
  [ENV_NAMES.engine]: z.enum(ENGINE_NAMES).default('wasm'),
  /** Where ort-wasm-simd-threaded.{mjs,wasm} are: beside the handler in the Lambda package. */
  [ENV_NAMES.wasmDir]: z.string().min(1).optional(),
});

export const IngestEnvSchema = LambdaEnvSchema.extend({
  [ENV_NAMES.queueUrl]: z.url(),
  [ENV_NAMES.chunkSize]: count,
  /** How long one ingest run may hold a job: the function's timeout. */
  [ENV_NAMES.ingestLeaseSeconds]: count.default(900),
  /** The stack's default share of error records (in %) past which a job fails; a manifest may set its own. */
  [ENV_NAMES.toleratedFailurePercent]: z.coerce.number().min(0).max(100).default(100),
  /** Jobs with more pairs than this go to AWS Batch; absent when the stack has no GPU route. */
  [ENV_NAMES.batchThreshold]: count.optional(),
  [ENV_NAMES.batchJobQueue]: z.string().min(1).optional(),
  [ENV_NAMES.batchJobDefinition]: z.string().min(1).optional(),
  /** Estimated seconds a chunk takes on a Batch child, and the child's timeout: they size array jobs. */
  [ENV_NAMES.batchSecondsPerChunk]: z.coerce.number().positive().optional(),
  [ENV_NAMES.batchTimeoutSeconds]: count.optional(),
}).superRefine((env, ctx) => {
  if (env[ENV_NAMES.batchThreshold] === undefined) return;
  for (const name of [
    ENV_NAMES.batchJobQueue,
    ENV_NAMES.batchJobDefinition,
    ENV_NAMES.batchSecondsPerChunk,
    ENV_NAMES.batchTimeoutSeconds,
  ] as const) {
    if (!env[name]) {
      ctx.addIssue({ code: 'custom', path: [name], message: `required with ${ENV_NAMES.batchThreshold}` });
    }
  }
});

export const WorkerEnvSchema = LambdaEnvSchema.extend({
  [ENV_NAMES.deadLetterQueueUrl]: z.url(),
  /**
   * Tries of a chunk (config worker.attempts): a chunk failing on this receive is dead-lettered
   * with its reason. The queue's own maxReceiveCount is 2 more, a backstop for crashes.
   */
  [ENV_NAMES.maxReceiveCount]: count,
});

export const BatchWorkerEnvSchema = CommonEnvSchema.extend({
  [ENV_NAMES.engine]: z.enum(ENGINE_NAMES).default('cuda'),
  [ENV_NAMES.job]: z.string().min(1),
  [ENV_NAMES.shards]: count.default(1),
  /** Set by AWS Batch for each child of an array job; absent for a plain job. */
  AWS_BATCH_JOB_ARRAY_INDEX: z.coerce.number().int().min(0).default(0),
  /**
   * Seconds after its start past which a child starts no more chunks (its timeout less a margin),
   * so that it exits 1 and is retried for the rest rather than stopped by Batch, which does not retry.
   */
  [ENV_NAMES.deadlineSeconds]: count.optional(),
  /** The job definition's attempts, and this child's (set by AWS Batch, from 1). */
  [ENV_NAMES.batchAttempts]: count.default(1),
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

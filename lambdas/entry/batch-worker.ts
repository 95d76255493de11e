/**
 * Entry point of the GPU container on AWS Batch: runs this child's shard of a job's chunks
 * (FUSEBATCH_JOB, FUSEBATCH_SHARDS from the submitting ingest function;
 * AWS_BATCH_JOB_ARRAY_INDEX from Batch) on the `cuda` engine by default, then exits: 0 when
 * every chunk of the shard is done, 1 otherwise (Batch then retries the child, which skips
 * the chunks already done).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { runShard } from '../core/bucket-pipeline.js';
import { createPipelineDeps } from './deps.js';
import { BatchWorkerEnvSchema, parseEnv } from './env.js';

const logger = new Logger({ serviceName: 'fusebatch-batch' });

/** When the container started: its deadline counts from here, as Batch's timeout does. */
const startedAt = Date.now();

export async function main(environment: NodeJS.ProcessEnv): Promise<number> {
  const env = parseEnv('batch-worker', BatchWorkerEnvSchema, environment);
  const shard = { index: env.AWS_BATCH_JOB_ARRAY_INDEX, count: env.FUSEBATCH_SHARDS };
  const deps = await createPipelineDeps(env, true);
  try {
    const started = Date.now();
    const outcome = await runShard(env.FUSEBATCH_JOB, shard, deps, {
      deadline:
        env.FUSEBATCH_DEADLINE_SECONDS === undefined ? undefined : startedAt + env.FUSEBATCH_DEADLINE_SECONDS * 1000,
      lastAttempt: env.AWS_BATCH_JOB_ATTEMPT >= env.FUSEBATCH_BATCH_ATTEMPTS,
    });
    logger.info('shard done', { job: env.FUSEBATCH_JOB, shard, ...outcome, ms: Date.now() - started });
    for (const failure of outcome.failed) logger.error('chunk failed', { job: env.FUSEBATCH_JOB, ...failure });
    // Anything left (failed, or not started before the deadline): exit 1 so that Batch retries the child.
    return outcome.failed.length || outcome.unfinished.length ? 1 : 0;
  } finally {
    await deps.model.engine.close();
  }
}

try {
  process.exitCode = await main(process.env);
} catch (error) {
  logger.error('batch worker failed', { error: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
}

/**
 * Lambda entry point of the ingest function (S3 events on inbox/ and jobs/). Environment,
 * clients and the model (WebAssembly compile, session) are set up at init, once per container.
 */
// First, so that the wasm engine's WebAssembly compiles while the modules below are evaluated.
import './wasm-ahead.js';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { BatchClient } from '@aws-sdk/client-batch';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AwsBatchRoute } from '../adapters/batch-route.js';
import { SqsChunkQueue } from '../adapters/sqs-queue.js';
import type { BatchRoute } from '../core/ports.js';
import { createIngestHandler } from '../handlers/ingest.js';
import { createPipelineDeps } from './deps.js';
import { IngestEnvSchema, parseEnv } from './env.js';

const env = parseEnv('ingest', IngestEnvSchema, process.env);
const logger = new Logger({ serviceName: 'fusebatch-ingest' });
const metrics = new Metrics({ namespace: 'fusebatch', serviceName: 'fusebatch-ingest' });
const deps = await createPipelineDeps(env, false);

const noBatchRoute: BatchRoute = {
  submit: async () => {
    throw new Error('this stack has no GPU route (FUSEBATCH_BATCH_THRESHOLD is not set)');
  },
};

const ingest = createIngestHandler({
  ...deps,
  logger,
  metrics,
  queue: new SqsChunkQueue(new SQSClient({}), env.FUSEBATCH_QUEUE_URL),
  batch:
    env.FUSEBATCH_BATCH_JOB_QUEUE &&
    env.FUSEBATCH_BATCH_JOB_DEFINITION &&
    env.FUSEBATCH_BATCH_SECONDS_PER_CHUNK &&
    env.FUSEBATCH_BATCH_TIMEOUT_SECONDS
      ? new AwsBatchRoute(new BatchClient({}), env.FUSEBATCH_BATCH_JOB_QUEUE, env.FUSEBATCH_BATCH_JOB_DEFINITION, {
          secondsPerChunk: env.FUSEBATCH_BATCH_SECONDS_PER_CHUNK,
          timeoutSeconds: env.FUSEBATCH_BATCH_TIMEOUT_SECONDS,
        })
      : noBatchRoute,
  chunkSize: env.FUSEBATCH_CHUNK_SIZE,
  leaseSeconds: env.FUSEBATCH_INGEST_LEASE_SECONDS,
  toleratedFailurePercent: env.FUSEBATCH_TOLERATED_FAILURE_PERCENT,
  // Without a GPU route every job goes to the Lambda workers.
  batchThreshold: env.FUSEBATCH_BATCH_THRESHOLD ?? Number.POSITIVE_INFINITY,
});

export const handler = async (event: unknown) => {
  try {
    return await ingest(event);
  } finally {
    metrics.publishStoredMetrics();
  }
};

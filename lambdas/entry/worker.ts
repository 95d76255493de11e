/**
 * Lambda entry point of the worker function (SQS, one chunk a message, partial batch
 * responses). Environment, clients and the model are set up at init, once per container.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SqsDeadLetters } from '../adapters/sqs-queue.js';
import { createWorkerHandler } from '../handlers/worker.js';
import { createPipelineDeps } from './deps.js';
import { parseEnv, WorkerEnvSchema } from './env.js';

const env = parseEnv('worker', WorkerEnvSchema, process.env);
const logger = new Logger({ serviceName: 'fusebatch-worker' });
const metrics = new Metrics({ namespace: 'fusebatch', serviceName: 'fusebatch-worker' });
const deps = await createPipelineDeps(env, true);

const work = createWorkerHandler({
  ...deps,
  logger,
  metrics,
  deadLetters: new SqsDeadLetters(new SQSClient({}), env.FUSEBATCH_DLQ_URL, env.FUSEBATCH_MAX_RECEIVE_COUNT),
});

export const handler = async (event: unknown) => {
  try {
    return await work(event);
  } finally {
    metrics.publishStoredMetrics();
  }
};

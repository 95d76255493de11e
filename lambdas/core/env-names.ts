/**
 * The names of the deployed entry points' environment variables, defined once: the CDK construct
 * sets them (lib/fused-inference-pipeline.ts), the entry points parse them (entry/env.ts), and the
 * Batch route passes a job's own to each child it submits (adapters/batch-route.ts). Plain
 * strings, so that the construct can import them without the entry points' code.
 */
export const ENV_NAMES = {
  bucket: 'FUSEBATCH_BUCKET',
  modelDir: 'FUSEBATCH_MODEL_DIR',
  s3Endpoint: 'FUSEBATCH_S3_ENDPOINT',
  threads: 'FUSEBATCH_THREADS',
  engine: 'FUSEBATCH_ENGINE',
  wasmDir: 'FUSEBATCH_WASM_DIR',
  /** Masks and class maps inline as COCO RLE, as PNG objects, or both (config masks). */
  masks: 'FUSEBATCH_MASKS',
  // The ingest function's.
  queueUrl: 'FUSEBATCH_QUEUE_URL',
  chunkSize: 'FUSEBATCH_CHUNK_SIZE',
  ingestLeaseSeconds: 'FUSEBATCH_INGEST_LEASE_SECONDS',
  toleratedFailurePercent: 'FUSEBATCH_TOLERATED_FAILURE_PERCENT',
  batchThreshold: 'FUSEBATCH_BATCH_THRESHOLD',
  batchJobQueue: 'FUSEBATCH_BATCH_JOB_QUEUE',
  batchJobDefinition: 'FUSEBATCH_BATCH_JOB_DEFINITION',
  batchSecondsPerChunk: 'FUSEBATCH_BATCH_SECONDS_PER_CHUNK',
  batchTimeoutSeconds: 'FUSEBATCH_BATCH_TIMEOUT_SECONDS',
  // The worker function's.
  deadLetterQueueUrl: 'FUSEBATCH_DLQ_URL',
  maxReceiveCount: 'FUSEBATCH_MAX_RECEIVE_COUNT',
  // The Batch child's: the job and its shards come with each submission, the rest with the job definition.
  job: 'FUSEBATCH_JOB',
  shards: 'FUSEBATCH_SHARDS',
  deadlineSeconds: 'FUSEBATCH_DEADLINE_SECONDS',
  batchAttempts: 'FUSEBATCH_BATCH_ATTEMPTS',
} as const;

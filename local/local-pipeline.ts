/**
 * Local mode: the whole pipeline on one machine with no AWS account. An embedded
 * S3-compatible server (s3rver) holds the bucket; its object-created events, re-encoded as
 * AWS encodes keys, go to the same ingest handler as in Lambda; chunks go through an
 * in-process queue with SQS's rules to a pool of the same worker handler.
 */
import { mkdir } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { SharpImageDecoder } from '../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../lambdas/adapters/model-bundle.js';
import { objectMaskStore } from '../lambdas/adapters/object-mask-store.js';
import { createS3Client, S3ObjectStore } from '../lambdas/adapters/s3-store.js';
import { encodeEventKey } from '../lambdas/core/keys.js';
import type { MaskFormat } from '../lambdas/core/mask-format.js';
import type { RuntimeModel } from '../lambdas/core/pipeline.js';
import type { ChunkMessage, ChunkQueue, ObjectStore } from '../lambdas/core/ports.js';
import type { EngineName } from '../lambdas/core/tensor.js';
import { createIngestHandler } from '../lambdas/handlers/ingest.js';
import { createWorkerHandler } from '../lambdas/handlers/worker.js';
import { type DeadLetter, type LocalMessage, LocalQueue } from './local-queue.js';

import { LOCAL_BUCKET } from './local-settings.js';
import { type FaultOptions, type S3Front, startS3Front } from './s3-front.js';

export interface LocalPipelineOptions {
  readonly port: number;
  readonly dataDir: string;
  readonly workers: number;
  readonly modelDir: string;
  readonly engine: EngineName;
  readonly threads: number;
  readonly chunkSize: number;
  readonly batchThreshold: number;
  readonly visibilityTimeoutMs: number;
  /** A chunk's attempts before the worker dead-letters it with its reason (the queue's own backstop is 2 more). */
  readonly maxReceiveCount: number;
  /** How long an ingest holds a job (Lambda: its timeout). */
  readonly ingestLeaseSeconds?: number;
  /** Delays before Lambda's two retries of a failed asynchronous event (AWS: about 1 and 2 minutes). */
  readonly ingestRetryDelaysMs?: readonly number[];
  /** Children per node of the completion tree (tests use small ones to build deep trees). */
  readonly fanout?: number;
  readonly toleratedFailurePercent?: number;
  /** S3 client settings over the defaults (tests shorten the timeouts). */
  readonly s3Client?: S3ClientConfig;
  /** Wraps the worker queue ingest sends to (tests fail sends here). */
  readonly wrapChunkQueue?: (queue: ChunkQueue) => ChunkQueue;
  /** Messages per routing step of ingest (tests use small ones). */
  readonly routingStep?: number;
  /** Wraps the store the handlers use (tests inject faults here). */
  readonly wrapStore?: (store: ObjectStore) => ObjectStore;
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** Faults the S3 front injects (all off by default); `front.setFaults` changes them later. */
  readonly faults?: FaultOptions;
  /** Masks and class maps inline as COCO RLE, as PNG objects, or both (default: the pipeline's). */
  readonly maskFormat?: MaskFormat;
}

export interface LocalPipeline {
  readonly endpoint: string;
  readonly bucket: string;
  readonly store: ObjectStore;
  readonly model: RuntimeModel;
  readonly queue: LocalQueue;
  readonly deadLetters: readonly DeadLetter[];
  /** Events whose ingest failed every try (Lambda's on-failure destination), with the reason. */
  readonly ingestFailures: readonly { readonly event: unknown; readonly reason: string }[];
  /** The endpoint's HTTP front (conditional writes, long listings, faults) before s3rver. */
  readonly front: S3Front;
  /** Resolves once no event is being ingested and no chunk is queued or running. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

interface S3rverEvent {
  Records: { eventName: string; s3: { object: { key: string } } }[];
}

export async function startLocalPipeline(options: LocalPipelineOptions): Promise<LocalPipeline> {
  await mkdir(options.dataDir, { recursive: true });
  // s3rver listens inside; clients reach it through the front on `options.port`.
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory: options.dataDir,
    silent: true,
    configureBuckets: [{ name: LOCAL_BUCKET, configs: [] }],
  });
  const { port: internalPort } = await server.run();
  const front = await startS3Front({
    upstream: `http://127.0.0.1:${internalPort}`,
    port: options.port,
    faults: options.faults,
    directory: options.dataDir,
  }).catch(async (error) => {
    await server.close();
    throw error;
  });
  const endpoint = front.endpoint;
  const rawStore = new S3ObjectStore(
    createS3Client({ bucket: LOCAL_BUCKET, endpoint }, options.s3Client),
    LOCAL_BUCKET,
  );
  const store = options.wrapStore ? options.wrapStore(rawStore) : rawStore;
  const logger = new Logger({ serviceName: 'fusebatch-local', logLevel: options.logLevel ?? 'WARN' });
  // A bundle that cannot load must not leave the server holding the process open.
  const model = await loadModelBundle(options.modelDir, {
    engine: options.engine,
    threads: options.threads,
    inWorkerThread: true,
  }).catch(async (error) => {
    await front.close();
    await server.close();
    throw error;
  });
  const queue = new LocalQueue({
    visibilityTimeoutMs: options.visibilityTimeoutMs,
    // As on AWS: the queue's redrive only catches what crashes the worker on every attempt.
    maxReceiveCount: options.maxReceiveCount + 2,
  });
  const deadLetters: DeadLetter[] = queue.deadLetters;
  const common = {
    store,
    model,
    images: new SharpImageDecoder(),
    masks: (keyFor: (id: string, task: string) => string) => objectMaskStore(store, keyFor),
    maskFormat: options.maskFormat,
  };
  const send = async (messages: readonly ChunkMessage[]) => {
    for (const m of messages) queue.send(JSON.stringify(m));
  };
  const ingest = createIngestHandler({
    ...common,
    logger,
    queue: options.wrapChunkQueue ? options.wrapChunkQueue({ send }) : { send },
    ...(options.routingStep ? { routingStep: options.routingStep } : {}),
    // Locally the GPU route is the same worker pool: one message per chunk, marked `batch`.
    batch: {
      submit: async (job, chunks) => {
        await send(
          Array.from({ length: chunks }, (_, chunk) => ({ job, chunk, route: 'batch' as const, generation: 0 })),
        );
        return `local-${job}`;
      },
    },
    chunkSize: options.chunkSize,
    batchThreshold: options.batchThreshold,
    leaseSeconds: options.ingestLeaseSeconds ?? 60,
    ...(options.fanout ? { fanout: options.fanout } : {}),
    ...(options.toleratedFailurePercent !== undefined
      ? { toleratedFailurePercent: options.toleratedFailurePercent }
      : {}),
  });
  const worker = createWorkerHandler({
    ...common,
    logger,
    deadLetters: {
      maxReceiveCount: options.maxReceiveCount,
      send: async (body, reason) => {
        deadLetters.push({
          messageId: `dlq-${deadLetters.length + 1}`,
          body,
          receiveCount: options.maxReceiveCount,
          reason,
        });
      },
    },
  });

  // Lambda runs an asynchronous event up to three times, then hands it to the on-failure destination.
  const ingestFailures: { event: unknown; reason: string }[] = [];
  const retryDelays = options.ingestRetryDelaysMs ?? [1000, 2000];
  const ingestWithRetries = async (event: unknown) => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await ingest(event);
      } catch (error) {
        const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        logger.warn('ingest failed', { attempt: attempt + 1, reason });
        if (attempt >= retryDelays.length) {
          ingestFailures.push({ event, reason });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryDelays[attempt]));
      }
    }
  };

  // Events: S3 URL-encodes keys in event records; s3rver sends them raw.
  const ingesting = new Set<Promise<unknown>>();
  // s3rver is a Koa app: its events are emitted on the instance (its types omit `on`).
  (server as unknown as NodeJS.EventEmitter).on('event', (event: S3rverEvent) => {
    const encoded = {
      Records: event.Records.map((r) => ({
        ...r,
        s3: { ...r.s3, object: { ...r.s3.object, key: encodeEventKey(r.s3.object.key) } },
      })),
    };
    const run = ingestWithRetries(encoded);
    ingesting.add(run);
    run.finally(() => ingesting.delete(run));
  });

  // Workers: each takes one message at a time, as a one-record SQS event.
  let running = 0;
  let stopped = false;
  const work = async (message: LocalMessage) => {
    const event = {
      Records: [
        {
          messageId: message.messageId,
          body: message.body,
          attributes: { ApproximateReceiveCount: String(message.receiveCount) },
          eventSource: 'aws:sqs',
        },
      ],
    };
    try {
      const response = await worker(event);
      if (response.batchItemFailures.length) queue.fail(message, 'the worker reported the chunk as failed');
      else queue.delete(message);
    } catch (error) {
      queue.fail(message, String(error));
    }
  };
  const loops = Array.from({ length: options.workers }, async () => {
    while (!stopped) {
      const message = queue.receive();
      if (!message) {
        await queue.changed(100);
        continue;
      }
      running++;
      try {
        await work(message);
      } finally {
        running--;
      }
    }
  });

  return {
    endpoint,
    bucket: LOCAL_BUCKET,
    store,
    model,
    queue,
    deadLetters,
    ingestFailures,
    front,
    async idle() {
      for (;;) {
        await Promise.all([...ingesting]);
        if (!ingesting.size && !queue.inFlight && !running) return;
        await queue.changed(50);
      }
    },
    async close() {
      stopped = true;
      await Promise.all(loops);
      await Promise.all([...ingesting]);
      await model.engine.close();
      await front.close();
      await server.close();
    },
  };
}

/**
 * The worker handler (SQS, one chunk a message): runs the chunk and reports failed messages
 * one by one (partial batch response), so SQS retries only those. On a chunk's last attempt
 * the worker first marks it stalled (so that a crash or timeout there still shows in the job's
 * status), and if the attempt fails, sends it to the dead-letter queue with its reason and
 * marks it stalled with that reason; `fusebatch redrive` runs it again.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type BucketPipelineDeps, markStalled, runChunk } from '../core/bucket-pipeline.js';
import { ChunkMessageSchema } from '../core/ports.js';
import { type MetricsPort, SqsEventSchema } from './events.js';

export interface DeadLetterPort {
  /** Attempts after which a failing chunk is dead-lettered with its reason (below the queue's own maxReceiveCount). */
  readonly maxReceiveCount: number;
  send(body: string, reason: string): Promise<void>;
}

export type WorkerHandlerDeps = BucketPipelineDeps & {
  readonly logger: Pick<Logger, 'info' | 'error'>;
  /**
   * SQS's own redrive moves a message without saying why; on a chunk's last receive the
   * worker sends it to the dead-letter queue itself, with the error, and reports success.
   */
  readonly deadLetters: DeadLetterPort;
  /** Powertools Metrics in Lambda; absent locally. */
  readonly metrics?: MetricsPort;
};

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

export function createWorkerHandler(deps: WorkerHandlerDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord) => {
    const receives = Number(record.attributes?.ApproximateReceiveCount ?? 1);
    const lastAttempt = receives >= deps.deadLetters.maxReceiveCount;
    // A body that is not a chunk message fails like any chunk, and ends in the dead-letter queue with why.
    const parsed = ChunkMessageSchema.safeParse(safeJson(record.body));
    if (!parsed.success) {
      const reason = `not a chunk message: ${record.body.slice(0, 200)}`;
      if (!lastAttempt) throw new Error(reason);
      await deps.deadLetters.send(record.body, reason);
      return;
    }
    const message = parsed.data;
    try {
      if (lastAttempt) {
        await markStalled(
          deps.store,
          message,
          `attempt ${receives} of ${deps.deadLetters.maxReceiveCount} did not finish: the function crashed or timed out`,
        );
      }
      const outcome = await runChunk(message, deps);
      deps.logger.info('chunk done', { ...message, ...outcome });
      deps.metrics?.addMetric('PairsSucceeded', 'Count', outcome.results);
      deps.metrics?.addMetric('PairsFailed', 'Count', outcome.errors);
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      deps.logger.error('chunk failed', { ...message, messageId: record.messageId, receives, reason });
      if (!lastAttempt) throw error;
      await markStalled(deps.store, message, `failed ${receives} attempts; the last: ${reason}`);
      await deps.deadLetters.send(record.body, reason);
      deps.metrics?.addMetric('ChunksDeadLettered', 'Count', 1);
    }
  };
  return async (event: unknown): Promise<SQSBatchResponse> => {
    SqsEventSchema.parse(event);
    return processPartialResponse(event as SQSEvent, handleRecord, processor);
  };
}

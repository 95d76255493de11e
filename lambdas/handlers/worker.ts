/**
 * The worker handler (SQS, one chunk a message): runs the chunk and reports failed messages
 * one by one (partial batch response), so SQS retries only those and, after the queue's
 * maxReceiveCount, moves a poison chunk to the dead-letter queue.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type BucketPipelineDeps, runChunk } from '../core/bucket-pipeline.js';
import { ChunkMessageSchema } from '../core/ports.js';
import { type MetricsPort, SqsEventSchema } from './events.js';

export interface DeadLetterPort {
  /** Receives after which a failing chunk is dead-lettered with its reason (the queue's maxReceiveCount). */
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

export function createWorkerHandler(deps: WorkerHandlerDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  const handleRecord = async (record: SQSRecord) => {
    try {
      const message = ChunkMessageSchema.parse(JSON.parse(record.body));
      const outcome = await runChunk(message, deps);
      deps.logger.info('chunk done', { ...message, ...outcome });
      deps.metrics?.addMetric('PairsSucceeded', 'Count', outcome.results);
      deps.metrics?.addMetric('PairsFailed', 'Count', outcome.errors);
    } catch (error) {
      const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      const receives = Number(record.attributes?.ApproximateReceiveCount ?? 1);
      deps.logger.error('chunk failed', { messageId: record.messageId, receives, reason });
      if (receives < deps.deadLetters.maxReceiveCount) throw error;
      await deps.deadLetters.send(record.body, reason);
      deps.metrics?.addMetric('ChunksDeadLettered', 'Count', 1);
    }
  };
  return async (event: unknown): Promise<SQSBatchResponse> => {
    SqsEventSchema.parse(event);
    return processPartialResponse(event as SQSEvent, handleRecord, processor);
  };
}

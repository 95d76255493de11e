/** The worker queue on SQS: one message per chunk, sent ten at a time. */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { ChunkMessage, ChunkQueue } from '../core/ports.js';

export class SqsChunkQueue implements ChunkQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly ChunkMessage[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const batch = messages.slice(i, i + 10);
      const out = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((m, k) => ({ Id: String(k), MessageBody: JSON.stringify(m) })),
        }),
      );
      if (out.Failed?.length) {
        throw new Error(
          `SQS refused ${out.Failed.length} chunk message(s): ${out.Failed.map((f) => f.Message).join('; ')}`,
        );
      }
    }
  }
}

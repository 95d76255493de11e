/** The worker queue on SQS: one message per chunk, sent ten at a time. */
import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
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

/**
 * The dead-letter queue, written by the worker itself on a chunk's last receive, so that the
 * message carries the reason (SQS's own redrive moves it without one).
 */
export class SqsDeadLetters {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    readonly maxReceiveCount: number,
  ) {}

  async send(body: string, reason: string): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: body,
        // Attribute values are limited to 256 KiB; a reason is a line or two.
        MessageAttributes: { reason: { DataType: 'String', StringValue: reason.slice(0, 4096) } },
      }),
    );
  }
}

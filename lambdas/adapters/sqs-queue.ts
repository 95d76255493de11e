import { SendMessageBatchCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import pMap from 'p-map';
import type { ChunkMessage, ChunkQueue } from '../core/ports.js';
/**
 * The worker queue on SQS: one message per chunk, ten to a SendMessageBatch, a few batches in
 * flight. SQS may refuse some entries of a batch (throttling, a passing fault): those, and only
 * those, are sent again with back-off; a batch request that fails as a whole is retried by the
 * SDK. What still fails after the tries throws, so the ingest fails and is retried (it resumes).
 */
export class SqsChunkQueue implements ChunkQueue {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
    private readonly options: { concurrency?: number; entryAttempts?: number; backoffMs?: number } = {},
  ) {}

  async send(messages: readonly ChunkMessage[]): Promise<void> {
    const batches: ChunkMessage[][] = [];
    for (let i = 0; i < messages.length; i += 10) batches.push(messages.slice(i, i + 10));
    await pMap(batches, (batch) => this.sendBatch(batch), { concurrency: this.options.concurrency ?? 4 });
  }

  private async sendBatch(batch: readonly ChunkMessage[]): Promise<void> {
    let pending = batch.map((m, k) => ({ Id: String(k), MessageBody: JSON.stringify(m) }));
    const attempts = this.options.entryAttempts ?? 5;
    for (let attempt = 1; ; attempt++) {
      const out = await this.client.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: pending }));
      const failed = new Set((out.Failed ?? []).map((f) => f.Id));
      if (!failed.size) return;
      // A sender fault (a malformed entry) will not heal; anything else may.
      const permanent = (out.Failed ?? []).filter((f) => f.SenderFault);
      if (permanent.length || attempt >= attempts) {
        throw new Error(
          `SQS refused ${failed.size} chunk message(s) after ${attempt} tries: ${(out.Failed ?? []).map((f) => `${f.Code}: ${f.Message}`).join('; ')}`,
        );
      }
      pending = pending.filter((e) => failed.has(e.Id));
      await new Promise((resolve) => setTimeout(resolve, (this.options.backoffMs ?? 200) * 2 ** (attempt - 1)));
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

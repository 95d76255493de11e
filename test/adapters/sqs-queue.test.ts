/**
 * SqsChunkQueue against an HTTP endpoint speaking SQS's JSON protocol (the real SDK client, a
 * fake SQS: SQS itself cannot run here). It refuses entries the way SQS does, in `Failed`.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { SqsChunkQueue } from '../../lambdas/adapters/sqs-queue.js';

interface Entry {
  Id: string;
  MessageBody: string;
}

async function fakeSqs(refuse: (entry: Entry, call: number) => { Code: string; SenderFault: boolean } | null) {
  const received: { chunk: number }[] = [];
  let calls = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const { Entries } = JSON.parse(body) as { Entries: Entry[] };
      const call = ++calls;
      const Successful: unknown[] = [];
      const Failed: unknown[] = [];
      for (const e of Entries) {
        const refusal = refuse(e, call);
        if (refusal) Failed.push({ Id: e.Id, ...refusal, Message: 'refused' });
        else {
          received.push(JSON.parse(e.MessageBody));
          Successful.push({
            Id: e.Id,
            MessageId: `m-${call}-${e.Id}`,
            MD5OfMessageBody: createHash('md5').update(e.MessageBody).digest('hex'),
          });
        }
      }
      inFlight--;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
      res.end(JSON.stringify({ Successful, Failed }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  return { server, client, received, stats: () => ({ calls, maxInFlight }) };
}

const messages = (n: number) =>
  Array.from({ length: n }, (_, chunk) => ({ job: 'j', chunk, route: 'queue' as const, generation: 0 }));

describe('Class: SqsChunkQueue', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('sends again only the entries SQS refused, until each is sent once', async () => {
    // Prepare: every third entry is throttled on its first try.
    const seen = new Set<string>();
    const sqs = await fakeSqs((e) => {
      const body = e.MessageBody;
      if (JSON.parse(body).chunk % 3 === 0 && !seen.has(body)) {
        seen.add(body);
        return { Code: 'ThrottlingException', SenderFault: false };
      }
      return null;
    });
    server = sqs.server;
    const queue = new SqsChunkQueue(sqs.client, 'http://queue', { backoffMs: 1, concurrency: 3 });
    // Act
    await queue.send(messages(95));
    // Assess
    expect(sqs.received.map((m) => m.chunk).sort((a, b) => a - b)).toEqual(Array.from({ length: 95 }, (_, i) => i));
    expect(sqs.stats().maxInFlight).toBeLessThanOrEqual(3);
    expect(sqs.stats().maxInFlight).toBeGreaterThan(1);
  });

  it('throws, naming the refusal, when an entry keeps being refused or is malformed', async () => {
    const sqs = await fakeSqs((e) =>
      JSON.parse(e.MessageBody).chunk === 4 ? { Code: 'InternalError', SenderFault: false } : null,
    );
    server = sqs.server;
    const queue = new SqsChunkQueue(sqs.client, 'http://queue', { backoffMs: 1, entryAttempts: 3 });
    await expect(queue.send(messages(12))).rejects.toThrow(
      /SQS refused 1 chunk message\(s\) after 3 tries: InternalError/,
    );
    server.close();
    const bad = await fakeSqs(() => ({ Code: 'InvalidMessageContents', SenderFault: true }));
    server = bad.server;
    await expect(new SqsChunkQueue(bad.client, 'http://queue').send(messages(1))).rejects.toThrow(
      /after 1 tries: InvalidMessageContents/,
    );
  });
});

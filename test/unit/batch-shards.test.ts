/**
 * Array-job sizing: as few children as keep each one's estimated share of the job within half
 * its timeout, within AWS Batch's bounds; and the route submits what the sizing says.
 */
import type { BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import { describe, expect, it } from 'vitest';
import { AwsBatchRoute } from '../../lambdas/adapters/batch-route.js';
import { batchShards, MAX_ARRAY_SIZE } from '../../lambdas/core/batch-shards.js';

// The defaults: 0.05 s a pair × 100 pairs a chunk, and a 120-minute child: 720 chunks fill half of one.
const defaults = { secondsPerChunk: 5, timeoutSeconds: 7200 };

describe('Batch shards', () => {
  it('gives each child at most half its timeout of estimated work, with the fewest children that do', () => {
    expect(batchShards(720, defaults)).toBe(1);
    expect(batchShards(721, defaults)).toBe(2);
    expect(batchShards(10_000, defaults)).toBe(14); // a million pairs: 50,000 s of work, 3,600 s a child
    expect(batchShards(100, { secondsPerChunk: 60, timeoutSeconds: 600 })).toBe(20);
  });

  it('never gives fewer than one child, more than one a chunk, or more than AWS Batch’s 10,000', () => {
    expect(batchShards(0, defaults)).toBe(1);
    expect(batchShards(1, defaults)).toBe(1);
    expect(batchShards(3, { secondsPerChunk: 1000, timeoutSeconds: 60 })).toBe(3);
    expect(batchShards(50_000, { secondsPerChunk: 1000, timeoutSeconds: 60 })).toBe(MAX_ARRAY_SIZE);
    expect(MAX_ARRAY_SIZE).toBe(10_000);
  });

  it('refuses estimates that are not positive', () => {
    expect(() => batchShards(10, { secondsPerChunk: 0, timeoutSeconds: 60 })).toThrow(RangeError);
    expect(() => batchShards(10, { secondsPerChunk: 1, timeoutSeconds: Number.NaN })).toThrow(RangeError);
  });
});

describe('AWS Batch route', () => {
  function recordingClient() {
    const sent: SubmitJobCommand['input'][] = [];
    const client = { send: async (command: SubmitJobCommand) => sent.push(command.input) } as unknown as BatchClient;
    return { client, sent };
  }

  it('submits an array job of the sized number of children, or a plain job for one', async () => {
    // Prepare
    const { client, sent } = recordingClient();
    const route = new AwsBatchRoute(client, 'queue-arn', 'definition-arn', defaults);
    // Act
    await route.submit('big job/1', 10_000);
    await route.submit('small', 12);
    // Assess
    expect(sent[0]).toMatchObject({
      jobName: 'fusebatch-big-job-1',
      jobQueue: 'queue-arn',
      jobDefinition: 'definition-arn',
      arrayProperties: { size: 14 },
      containerOverrides: {
        environment: [
          { name: 'FUSEBATCH_JOB', value: 'big job/1' },
          { name: 'FUSEBATCH_SHARDS', value: '14' },
        ],
      },
    });
    expect(sent[1].arrayProperties).toBeUndefined();
    expect(sent[1].containerOverrides?.environment).toContainEqual({ name: 'FUSEBATCH_SHARDS', value: '1' });
  });
});

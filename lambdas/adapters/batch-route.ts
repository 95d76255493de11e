/**
 * The GPU route on AWS Batch: one array job per manifest job. Each child runs a shard of the
 * job's chunks (every N-th chunk from its AWS_BATCH_JOB_ARRAY_INDEX); N is sized from the job
 * (core/batch-shards.ts), so that each child's share fits well within its timeout while each loads
 * the model once for many chunks.
 */
import { type BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import { batchShards, type ShardSizing } from '../core/batch-shards.js';
import { ENV_NAMES } from '../core/env-names.js';
import type { BatchRoute } from '../core/ports.js';

export class AwsBatchRoute implements BatchRoute {
  constructor(
    private readonly client: BatchClient,
    private readonly jobQueue: string,
    private readonly jobDefinition: string,
    private readonly sizing: ShardSizing,
  ) {}

  async submit(job: string, chunks: number): Promise<string> {
    const shards = batchShards(chunks, this.sizing);
    const out = await this.client.send(
      new SubmitJobCommand({
        jobName: `fusebatch-${job.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 128),
        jobQueue: this.jobQueue,
        jobDefinition: this.jobDefinition,
        // An array job needs at least 2 children; one shard runs as a plain job (index 0).
        ...(shards > 1 ? { arrayProperties: { size: shards } } : {}),
        containerOverrides: {
          // Each child's own environment: the job, and how many shards it is split into.
          environment: [
            { name: ENV_NAMES.job, value: job },
            { name: ENV_NAMES.shards, value: String(shards) },
          ],
        },
      }),
    );
    return out.jobId ?? '';
  }
}

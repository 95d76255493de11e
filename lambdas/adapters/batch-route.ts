/**
 * The GPU route on AWS Batch: one array job per manifest job, one child per chunk. Each child
 * reads AWS_BATCH_JOB_ARRAY_INDEX (set by Batch) as its chunk number.
 */
import { type BatchClient, SubmitJobCommand } from '@aws-sdk/client-batch';
import type { BatchRoute } from '../core/ports.js';

export class AwsBatchRoute implements BatchRoute {
  constructor(
    private readonly client: BatchClient,
    private readonly jobQueue: string,
    private readonly jobDefinition: string,
  ) {}

  async submit(job: string, chunks: number): Promise<void> {
    await this.client.send(
      new SubmitJobCommand({
        jobName: `fusebatch-${job.replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 128),
        jobQueue: this.jobQueue,
        jobDefinition: this.jobDefinition,
        // An array job needs at least 2 children; a 1-chunk job runs as a plain job (index 0).
        ...(chunks > 1 ? { arrayProperties: { size: chunks } } : {}),
        containerOverrides: { environment: [{ name: 'FUSEBATCH_JOB', value: job }] },
      }),
    );
  }
}

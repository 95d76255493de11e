/**
 * Local mode at scale: a job of 2,000 chunks completes through the local S3 endpoint, and its
 * results list past S3's 1,000-key pages. Every line is invalid on purpose (no image, no text),
 * so no inference runs: what is exercised is ingest, the queue, completion and the listings.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRecords } from '../../cli/bucket-commands.js';
import { readJobStatus } from '../../lambdas/core/job-status.js';
import { jobKeys } from '../../lambdas/core/keys.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/local-pipeline.js';
import { referenceBundle } from '../helpers/runtime.js';

describe('Local mode: a job of 2,000 chunks', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-local-scale-'));
    pipeline = await startLocalPipeline({
      port: 0,
      dataDir: path.join(dir, 's3'),
      workers: 4,
      modelDir: referenceBundle,
      engine: 'cpu',
      threads: 1,
      chunkSize: 1,
      batchThreshold: 1_000_000,
      visibilityTimeoutMs: 60_000,
      maxReceiveCount: 3,
      logLevel: 'SILENT',
    });
  });
  afterAll(async () => {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('completes, and its 4,000 parts list and read in full', async () => {
    // Prepare
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ id: `p${i}` })).join('\n');
    // Act
    await pipeline.store.put('jobs/big.jsonl', lines);
    await pipeline.idle();
    // Assess
    const status = await readJobStatus(pipeline.store, 'big');
    expect(status).toMatchObject({
      state: 'complete',
      total: 2000,
      done: 2000,
      failed: 2000,
      chunks: { total: 2000, done: 2000 },
    });
    expect(await pipeline.store.list(jobKeys.errorsPrefix('big'))).toHaveLength(2000);
    const ids = new Set<string>();
    for await (const record of jobRecords(pipeline.store, 'big')) {
      expect(record).toMatchObject({ status: 'error', error: { code: 'INPUT_INVALID' } });
      ids.add(record.id);
    }
    expect(ids.size).toBe(2000);
  }, 300_000);
});

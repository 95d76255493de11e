/**
 * The pipeline under the faults S3 and SQS are documented to produce, injected by the local
 * S3 front (503 SlowDown storms, connection resets, stalls) and by a failing queue, with the
 * real handlers, the real model and the real S3 API over HTTP. What must hold: every pair ends
 * as exactly one record, no record is caused by an infrastructure fault, and the job completes
 * on its own or after one redrive; status never says complete while a chunk is missing.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRecords, requestRedrive } from '../../cli/bucket-commands.js';
import { createS3Client, S3ObjectStore } from '../../lambdas/adapters/s3-store.js';
import { type JobStatus, readJobStatus } from '../../lambdas/core/job-status.js';
import { jobKeys } from '../../lambdas/core/keys.js';
import type { ChunkMessage, ObjectStore } from '../../lambdas/core/ports.js';
import type { OutputRecord } from '../../lambdas/core/records.js';
import type { LocalPipeline, LocalPipelineOptions } from '../../local/local-pipeline.js';
import { total } from '../../local/s3-front.js';
import { startTestPipeline } from '../helpers/local-pipeline.js';
import { evalDir } from '../helpers/runtime.js';

let dir: string;
let images: string[];
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-faults-'));
  images = (await readdir(path.join(evalDir, 'pairs'))).filter((f) => f.endsWith('.png')).sort();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function start(over: Partial<LocalPipelineOptions> = {}): Promise<LocalPipeline> {
  return startTestPipeline(dir, {
    chunkSize: 50,
    batchThreshold: 1_000_000,
    visibilityTimeoutMs: 30_000,
    // A stalled request gives up after 1.5 s (30 s in production) and is retried.
    s3Client: {
      requestHandler: { requestTimeout: 1500, connectionTimeout: 1000, throwOnRequestTimeout: true },
      maxAttempts: 8,
    },
    ingestRetryDelaysMs: [200, 400],
    ...over,
  });
}

/**
 * The test's own client, as a user's would be (the SDK's usual attempts), apart from the
 * handlers' store, whose settings a test may cut down.
 */
const userStore = (pipeline: LocalPipeline) =>
  new S3ObjectStore(createS3Client({ bucket: pipeline.bucket, endpoint: pipeline.endpoint }), pipeline.bucket);

/** Uploads the evaluation images, and returns a manifest of `pairs` lines over them. */
async function manifest(pipeline: LocalPipeline, job: string, pairs: number): Promise<string> {
  const captions = new Map<string, string>();
  const store = userStore(pipeline);
  for (const image of images) {
    await store.put(`uploads/${job}/${image}`, await readFile(path.join(evalDir, 'pairs', image)));
    captions.set(image, await readFile(path.join(evalDir, 'pairs', image.replace(/\.png$/, '.txt')), 'utf8'));
  }
  return Array.from({ length: pairs }, (_, i) => {
    const image = images[i % images.length];
    return JSON.stringify({ id: `p${i}`, image: `uploads/${job}/${image}`, text: captions.get(image) });
  }).join('\n');
}

async function records(store: ObjectStore, job: string): Promise<OutputRecord[]> {
  const out: OutputRecord[] = [];
  for await (const r of jobRecords(store, job)) out.push(r);
  return out;
}

/** Polls status while a job runs and records any moment it says complete with a chunk missing. */
function watchCompleteness(store: ObjectStore, job: string, chunks: number) {
  const violations: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const status = await readJobStatus(store, job);
        if (status.complete) {
          const parts = await store.list(jobKeys.errorsPrefix(job));
          if (parts.length < chunks) violations.push(`complete with ${parts.length} of ${chunks} errors parts`);
        }
      } catch {
        // Not ingested yet, or a read that met the storm: the next poll will tell.
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();
  return {
    violations,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/** Waits for the job to settle; one redrive if it stalled, as a user would. */
async function settle(pipeline: LocalPipeline, job: string): Promise<{ status: JobStatus; redriven: boolean }> {
  const store = userStore(pipeline);
  await pipeline.idle();
  let status = await readJobStatus(store, job);
  if (status.complete) return { status, redriven: false };
  await requestRedrive(store, job);
  await pipeline.idle();
  status = await readJobStatus(store, job);
  return { status, redriven: true };
}

describe('Pipeline: a 2,000-pair job under S3 faults', () => {
  it('ends with exactly one record per pair and none caused by a fault, through a SlowDown storm, resets and stalls', async () => {
    // Prepare
    const pipeline = await start();
    const job = 'storm';
    try {
      const lines = await manifest(pipeline, job, 2000);
      // A third of the requests answered 503 SlowDown for 8 s, 3 % reset, 1 % stalled until the client gives up.
      pipeline.front.setFaults({
        seed: 11,
        slowDown: { rate: 0.33, untilMs: 8000 },
        reset: { rate: 0.03, at: 'response' },
        stall: { rate: 0.01 },
      });
      const watch = watchCompleteness(pipeline.store, job, 40);
      // Act
      await pipeline.store.put(`jobs/${job}.jsonl`, lines);
      const { status } = await settle(pipeline, job);
      await watch.stop();
      pipeline.front.setFaults({});
      // Assess
      expect(status).toMatchObject({ state: 'complete', total: 2000, done: 2000, failed: 0 });
      const all = await records(pipeline.store, job);
      expect(all).toHaveLength(2000);
      expect(new Set(all.map((r) => r.id)).size).toBe(2000);
      expect(all.filter((r) => r.status === 'error')).toEqual([]);
      expect(watch.violations).toEqual([]);
      const injected = pipeline.front.counters;
      // The storm lasts 8 s of wall time, so how many requests it meets depends on the machine's speed.
      expect(total(injected.slowDowns)).toBeGreaterThan(10);
      expect(total(injected.resets)).toBeGreaterThan(10);
      expect(total(injected.stalls)).toBeGreaterThan(0);
    } finally {
      await pipeline.close();
    }
  }, 300_000);

  it('completes after one redrive when a storm outlasts every attempt, with no record blaming the pairs', async () => {
    // Prepare: every GET of an image fails for 6 s: longer than a chunk's three attempts.
    const pipeline = await start({
      maxReceiveCount: 2,
      visibilityTimeoutMs: 200,
      s3Client: { requestHandler: { requestTimeout: 1500, throwOnRequestTimeout: true }, maxAttempts: 2 },
    });
    const job = 'outage';
    const store = userStore(pipeline);
    try {
      const lines = await manifest(pipeline, job, 200);
      pipeline.front.setFaults({ slowDown: { rate: 1, untilMs: 6000, only: { methods: ['GET'], key: '^uploads/' } } });
      // Act
      await store.put(`jobs/${job}.jsonl`, lines);
      await pipeline.idle();
      const stalled = await readJobStatus(store, job);
      await new Promise((resolve) => setTimeout(resolve, 6000));
      const { status, redriven } = await settle(pipeline, job);
      // Assess
      expect(stalled.state).toBe('stalled');
      expect(stalled.stalled[0].reason).toMatch(/SlowDown|reduce your request rate/i);
      expect(pipeline.deadLetters.length).toBeGreaterThan(0);
      expect(redriven).toBe(true);
      expect(status).toMatchObject({ state: 'complete', done: 200, failed: 0 });
      const all = await records(store, job);
      expect(new Set(all.map((r) => r.id)).size).toBe(200);
      expect(all).toHaveLength(200);
    } finally {
      await pipeline.close();
    }
  }, 180_000);
});

describe('Pipeline: a failed fan-out', () => {
  it('resumes routing where it stopped: every chunk is sent once and runs once', async () => {
    // Prepare: routing 5 chunks a step; the queue refuses the third step once.
    const sent: ChunkMessage[] = [];
    let steps = 0;
    const pipeline = await start({
      chunkSize: 4,
      routingStep: 5,
      wrapChunkQueue: (queue) => ({
        send: async (messages) => {
          if (++steps === 3) throw new Error('SQS: ServiceUnavailable');
          sent.push(...messages);
          return queue.send(messages);
        },
      }),
    });
    const job = 'fanout';
    try {
      const lines = await manifest(pipeline, job, 80);
      // Act
      await pipeline.store.put(`jobs/${job}.jsonl`, lines);
      await pipeline.idle();
      // Assess
      const status = await readJobStatus(pipeline.store, job);
      expect(status).toMatchObject({ state: 'complete', done: 80, failed: 0 });
      expect(sent.map((m) => m.chunk)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(pipeline.ingestFailures).toEqual([]);
      const all = await records(pipeline.store, job);
      expect(all).toHaveLength(80);
    } finally {
      await pipeline.close();
    }
  }, 120_000);
});

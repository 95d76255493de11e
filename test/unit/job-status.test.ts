import { describe, expect, it } from 'vitest';
import { recordChunkDone } from '../../lambdas/core/completion.js';
import { type JobStatusDocument, readJobStatus } from '../../lambdas/core/job-status.js';
import { jobKeys } from '../../lambdas/core/keys.js';
import { ObjectNotFoundError } from '../../lambdas/core/ports.js';
import { MemoryStore } from '../helpers/memory-store.js';

const NOW = Date.parse('2026-11-30T12:00:00Z');

const doc: JobStatusDocument = {
  job: 'j',
  manifest: 'jobs/j.jsonl',
  manifestEtag: '"e"',
  route: 'queue',
  lines: 23,
  invalid: 1,
  chunkSize: 5,
  chunks: 5,
  fanout: 2,
  toleratedFailurePercent: 100,
  createdAt: '2026-11-30T11:00:00.000Z',
};
const tree = { job: 'j', chunks: 5, fanout: 2 };

function routedJob(): MemoryStore {
  const store = new MemoryStore();
  store.seed(jobKeys.status('j'), JSON.stringify(doc));
  store.seed(jobKeys.routed('j'), JSON.stringify({ sent: 5, complete: true }));
  return store;
}

describe('Function: readJobStatus', () => {
  it('says a job with nothing in the bucket does not exist', async () => {
    await expect(readJobStatus(new MemoryStore(), 'j', NOW)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('says ingesting while an ingest holds the lease, and stalled once the lease lapsed with nothing written', async () => {
    const store = new MemoryStore();
    store.seed(jobKeys.lease('j'), JSON.stringify({ owner: 'x', expiresAt: NOW + 1000 }));
    expect(await readJobStatus(store, 'j', NOW)).toMatchObject({ state: 'ingesting', complete: false });
    expect(await readJobStatus(store, 'j', NOW + 2000)).toMatchObject({
      state: 'stalled',
      stalled: [{ reason: expect.stringMatching(/ingest stopped before writing the chunks/) }],
    });
  });

  it("says ingesting, with nothing stalled, while a failed ingest awaits Lambda's retry, and stalled with its reason after", async () => {
    const store = new MemoryStore();
    const failedAt = NOW - 60_000;
    store.seed(
      jobKeys.lease('j'),
      JSON.stringify({ owner: 'released', expiresAt: 0, failedAt, reason: 'Error: socket hang up' }),
    );
    expect(await readJobStatus(store, 'j', NOW)).toMatchObject({ state: 'ingesting', stalled: [] });
    expect(await readJobStatus(store, 'j', NOW + 10 * 60_000)).toMatchObject({
      state: 'stalled',
      stalled: [
        {
          reason:
            'the ingest stopped before writing the chunks (Error: socket hang up): fusebatch redrive ingests again',
        },
      ],
    });
  });

  it('counts done lines and error records from the completion markers, chunk by chunk', async () => {
    // Prepare: chunks 0, 1 and 4 done (5 + 5 + 3 lines).
    const store = routedJob();
    await recordChunkDone(store, tree, 0, 0, { results: 4, errors: 1 });
    await recordChunkDone(store, tree, 1, 0, { results: 5, errors: 0 });
    await recordChunkDone(store, tree, 4, 0, { results: 1, errors: 2 });
    // Act
    const status = await readJobStatus(store, 'j', NOW);
    // Assess
    expect(status).toMatchObject({
      state: 'running',
      total: 23,
      done: 13,
      failed: 3,
      pending: 10,
      chunks: { total: 5, done: 3, stalled: 0 },
      complete: false,
      finished: null,
    });
  });

  it('says stalled, with the reason, for a chunk that failed its last attempt, until it is done', async () => {
    // Prepare
    const store = routedJob();
    for (const chunk of [0, 1, 2, 4]) await recordChunkDone(store, tree, chunk, 0, { results: 5, errors: 0 });
    store.seed(
      jobKeys.stalled('j', 3),
      JSON.stringify({ chunk: 3, generation: 0, reason: 'SlowDown: Please reduce your request rate.', at: 'then' }),
    );
    // Act / Assess
    expect(await readJobStatus(store, 'j', NOW)).toMatchObject({
      state: 'stalled',
      chunks: { done: 4, stalled: 1 },
      stalled: [{ chunk: 3, reason: 'SlowDown: Please reduce your request rate.' }],
      complete: false,
    });
    await recordChunkDone(store, tree, 3, 1, { results: 5, errors: 0 });
    expect(await readJobStatus(store, 'j', NOW)).toMatchObject({
      state: 'complete',
      chunks: { done: 5, stalled: 0 },
      complete: true,
    });
  });

  it('never says complete while a chunk has no marker, and says complete with one LIST once all have', async () => {
    const store = routedJob();
    for (const chunk of [0, 1, 2, 3]) await recordChunkDone(store, tree, chunk, 0, { results: 5, errors: 0 });
    expect((await readJobStatus(store, 'j', NOW)).complete).toBe(false);
    await recordChunkDone(store, tree, 4, 0, { results: 3, errors: 0 });
    const status = await readJobStatus(store, 'j', NOW);
    expect(status).toMatchObject({ state: 'complete', done: 23, pending: 0, complete: true });
    expect(status.finished).not.toBeNull();
    // 4 documents read, 1 listing of stalled/, 1 listing of the root's folder.
    expect(status.requests).toBe(7);
  });

  it('says stalled when routing stopped part-way and no ingest holds the job', async () => {
    const store = new MemoryStore();
    store.seed(jobKeys.status('j'), JSON.stringify(doc));
    store.seed(jobKeys.routed('j'), JSON.stringify({ sent: 2, complete: false }));
    store.seed(jobKeys.lease('j'), JSON.stringify({ owner: 'released', expiresAt: 0 }));
    expect(await readJobStatus(store, 'j', NOW)).toMatchObject({
      state: 'stalled',
      routing: { sent: 2, of: 5 },
      stalled: [{ reason: 'routing stopped after 2 of 5 chunks: fusebatch redrive routes the rest' }],
    });
  });

  it('says cancelled or failed, with the reason, when the job was stopped', async () => {
    const store = routedJob();
    store.seed(jobKeys.stop('j'), JSON.stringify({ state: 'cancelled', reason: 'cancelled by the user', at: 'now' }));
    expect(await readJobStatus(store, 'j', NOW)).toMatchObject({
      state: 'cancelled',
      stop: { state: 'cancelled', reason: 'cancelled by the user' },
    });
  });
});

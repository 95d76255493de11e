import { describe, expect, it } from 'vitest';
import { recordChunkDone } from '../../lambdas/core/completion.js';
import { RetryLaterError } from '../../lambdas/core/errors.js';
import { type IngestDeps, ingestJob, redriveJob } from '../../lambdas/core/job-ingest.js';
import { readJobStatus } from '../../lambdas/core/job-status.js';
import { chunkName, jobKeys } from '../../lambdas/core/keys.js';
import type { ModelManifest } from '../../lambdas/core/manifest.js';
import type { ChunkMessage } from '../../lambdas/core/ports.js';
import { MemoryStore } from '../helpers/memory-store.js';

const manifest = { inputs: { image: {}, text: {} }, tasks: [] } as unknown as ModelManifest;
const kind = (job: string, format: 'jsonl' | 'csv' = 'jsonl') =>
  ({ kind: 'job-manifest', job, format, key: `jobs/${job}.${format}` }) as const;

const lines = (n: number, bad: number[] = []) =>
  Array.from({ length: n }, (_, i) =>
    bad.includes(i) ? `{"id":"p${i}"}` : JSON.stringify({ id: `p${i}`, image: `uploads/img/${i}.png`, text: `t${i}` }),
  ).join('\n') + '\n';

function setup(overrides: Partial<IngestDeps> = {}) {
  const store = new MemoryStore();
  const sent: ChunkMessage[] = [];
  const submitted: { job: string; chunks: number }[] = [];
  const deps: IngestDeps = {
    store,
    model: { manifest },
    queue: { send: async (messages) => void sent.push(...messages) },
    batch: {
      submit: async (job, chunks) => {
        submitted.push({ job, chunks });
        return 'batch-1';
      },
    },
    chunkSize: 10,
    batchThreshold: 1000,
    fanout: 4,
    ...overrides,
  };
  return { store, sent, submitted, deps };
}

describe('Function: ingestJob', () => {
  it('streams the manifest into chunks holding every line, invalid ones included, and routes each chunk once', async () => {
    // Prepare
    const { store, sent, deps } = setup();
    store.seed('jobs/j.jsonl', lines(25, [3, 24]));
    // Act
    const outcome = await ingestJob(kind('j'), deps);
    // Assess
    expect(outcome).toEqual({ outcome: 'job-routed', job: 'j', route: 'queue', chunks: 3 });
    expect(sent.map((m) => m.chunk)).toEqual([0, 1, 2]);
    expect(sent[0]).toEqual({ job: 'j', chunk: 0, route: 'queue', generation: 0 });
    const chunk0 = store
      .text(jobKeys.chunk('j', 0))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(chunk0).toHaveLength(10);
    expect(chunk0[3]).toMatchObject({
      line: 4,
      id: 'p3',
      invalid: expect.stringMatching(/^line 4: image: image is required/),
    });
    expect(store.text(jobKeys.chunk('j', 2)).trim().split('\n')).toHaveLength(5);
    const status = await readJobStatus(store, 'j');
    expect(status).toMatchObject({ state: 'running', total: 25, chunks: { total: 3, done: 0 } });
  });

  it('does nothing for a job already routed (a duplicate S3 event)', async () => {
    const { store, sent, deps } = setup();
    store.seed('jobs/j.jsonl', lines(5));
    await ingestJob(kind('j'), deps);
    expect(await ingestJob(kind('j'), deps)).toEqual({ outcome: 'job-already-ingested', job: 'j' });
    expect(sent).toHaveLength(1);
  });

  it('refuses a manifest uploaded again under a taken name (changed, the same bytes, or .csv beside .jsonl), and status shows it', async () => {
    // Prepare
    const { store, sent, deps } = setup();
    store.seed('jobs/j.jsonl', lines(5));
    await ingestJob(kind('j'), deps);
    await new Promise((resolve) => setTimeout(resolve, 5)); // a later upload has a later date
    store.seed('jobs/j.jsonl', lines(7));
    // Act
    const changed = await ingestJob(kind('j'), deps);
    store.seed('jobs/j.jsonl', lines(5));
    const same = await ingestJob(kind('j'), deps);
    store.seed('jobs/j.csv', 'id,image,text\nq,uploads/a.png,hi\n');
    const beside = await ingestJob(kind('j', 'csv'), deps);
    // Assess
    for (const [outcome, key] of [
      [changed, 'jobs/j.jsonl'],
      [same, 'jobs/j.jsonl'],
      [beside, 'jobs/j.csv'],
    ] as const) {
      expect(outcome).toEqual({
        outcome: 'job-refused',
        job: 'j',
        key,
        reason: expect.stringMatching(
          new RegExp(`^${key} was not run: job j already exists \\(from jobs/j.jsonl, ingested `),
        ),
      });
    }
    expect(sent).toHaveLength(1);
    const status = await readJobStatus(store, 'j');
    expect(status.total).toBe(5);
    expect(status.refused?.map((r) => r.key).sort()).toEqual(['jobs/j.csv', 'jobs/j.jsonl', 'jobs/j.jsonl']);
  });

  it("refuses to run a name whose results/ holds an earlier job's records when its state is gone", async () => {
    const { store, sent, deps } = setup();
    store.seed(jobKeys.part('j', 0), '{"id":"old"}\n');
    store.seed('jobs/j.jsonl', lines(5));
    const outcome = await ingestJob(kind('j'), deps);
    expect(outcome).toMatchObject({ outcome: 'job-failed-at-ingest', job: 'j' });
    expect(sent).toEqual([]);
    const status = await readJobStatus(store, 'j');
    expect(status.state).toBe('failed');
    expect(status.stop?.reason).toContain('results/jobs/j/ holds records of an earlier job named j');
  });

  it('resumes a failed fan-out where it stopped: every chunk is sent, none twice', async () => {
    // Prepare: 2,500 chunks (routed 1,000 at a time); the queue fails on the second thousand.
    let calls = 0;
    const { store, sent, deps } = setup({ chunkSize: 1, batchThreshold: 10_000 });
    const failing: IngestDeps = {
      ...deps,
      queue: {
        send: async (messages) => {
          if (++calls === 2) throw new Error('SQS: ServiceUnavailable');
          sent.push(...messages);
        },
      },
    };
    store.seed('jobs/j.jsonl', lines(2500));
    // Act
    await expect(ingestJob(kind('j'), failing)).rejects.toThrow('ServiceUnavailable');
    const retrying = await readJobStatus(store, 'j');
    const stalled = await readJobStatus(store, 'j', Date.now() + 6 * 60_000);
    const retried = await ingestJob(kind('j'), failing);
    // Assess
    expect(retrying).toMatchObject({ state: 'ingesting', routing: { sent: 1000, of: 2500 } });
    expect(stalled).toMatchObject({ state: 'stalled', routing: { sent: 1000, of: 2500 } });
    expect(retried).toMatchObject({ outcome: 'job-routed', chunks: 2500 });
    expect(sent.map((m) => m.chunk)).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    // The retry did not write the chunks again.
    expect(store.calls.put).toBeLessThan(2500 + 10);
  });

  it('lets one of two concurrent ingests of a manifest route it; the other is retried later', async () => {
    const { store, sent, deps } = setup();
    store.seed('jobs/j.jsonl', lines(30));
    const results = await Promise.allSettled([ingestJob(kind('j'), deps), ingestJob(kind('j'), deps)]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toBeInstanceOf(RetryLaterError);
    expect(sent.map((m) => m.chunk)).toEqual([0, 1, 2]);
    // Lambda's retry of the refused one finds the job routed.
    expect(await ingestJob(kind('j'), deps)).toEqual({ outcome: 'job-already-ingested', job: 'j' });
  });

  it('takes over the lease of an ingest that crashed, once it lapsed', async () => {
    const { store, sent, deps } = setup({ now: () => new Date('2026-11-30T12:00:00Z') });
    store.seed('jobs/j.jsonl', lines(5));
    store.seed(jobKeys.lease('j'), JSON.stringify({ owner: 'crashed', expiresAt: Date.parse('2026-11-30T12:05:00Z') }));
    await expect(ingestJob(kind('j'), deps)).rejects.toBeInstanceOf(RetryLaterError);
    const later = { ...deps, now: () => new Date('2026-11-30T12:06:00Z') };
    expect(await ingestJob(kind('j'), later)).toMatchObject({ outcome: 'job-routed' });
    expect(sent).toHaveLength(1);
  });

  it('submits a large job to Batch once, even when the ingest is retried after the submit', async () => {
    let failAfterSubmit = true;
    const { store, submitted, deps } = setup({ batchThreshold: 20 });
    const flaky: IngestDeps = {
      ...deps,
      store: Object.assign(Object.create(store), {
        put: async (key: string, body: string) => {
          if (key === jobKeys.routed('j') && failAfterSubmit && JSON.parse(body).complete) {
            failAfterSubmit = false;
            throw new Error('socket hang up');
          }
          return store.put(key, body);
        },
      }),
    };
    store.seed('jobs/j.jsonl', lines(30));
    await expect(ingestJob(kind('j'), flaky)).rejects.toThrow('socket hang up');
    expect(await ingestJob(kind('j'), flaky)).toMatchObject({ outcome: 'job-routed', route: 'batch' });
    expect(submitted).toEqual([{ job: 'j', chunks: 3 }]);
  });

  it('reads a CSV caption holding a bare quote as text, and fails a CSV it cannot read past with the reason in status', async () => {
    // Prepare
    const { store, sent, deps } = setup();
    store.seed('jobs/q.csv', 'id,image,text\nq1,uploads/a.png,a sign reading "STOP"\nq2,uploads/b.png,plain\n');
    store.seed('jobs/broken.csv', 'id,image,text\nb1,uploads/a.png,"never closed\nb2,uploads/b.png,t\n');
    // Act
    const quoted = await ingestJob(kind('q', 'csv'), deps);
    const broken = await ingestJob(kind('broken', 'csv'), deps);
    // Assess
    expect(quoted).toMatchObject({ outcome: 'job-routed', chunks: 1 });
    expect(store.text(jobKeys.chunk('q', 0))).toContain('"text":"a sign reading \\"STOP\\""');
    expect(broken).toMatchObject({
      outcome: 'job-failed-at-ingest',
      reason: expect.stringMatching(/^jobs\/broken\.csv: not a readable CSV: /),
    });
    expect(sent.map((m) => m.job)).toEqual(['q']);
    expect(await readJobStatus(store, 'broken')).toMatchObject({
      state: 'failed',
      stop: { reason: broken.outcome === 'job-failed-at-ingest' ? broken.reason : '' },
    });
  });

  it('refuses a line that is not valid UTF-8 on its own, and runs its neighbours', async () => {
    const { store, deps } = setup();
    const good = (id: string) =>
      new TextEncoder().encode(JSON.stringify({ id, image: 'uploads/a.png', text: 'café' }) + '\n');
    const latin1 = Uint8Array.from([
      ...new TextEncoder().encode('{"id":"bad","image":"uploads/a.png","text":"caf'),
      0xe9,
      ...new TextEncoder().encode('"}\n'),
    ]);
    store.seed('jobs/u.jsonl', Buffer.concat([good('a'), latin1, good('b')]));
    await ingestJob(kind('u'), deps);
    const lines = store
      .text(jobKeys.chunk('u', 0))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.id, l.text, l.invalid])).toEqual([
      ['a', 'café', undefined],
      ['line-2', null, 'line 2: the line is not valid UTF-8'],
      ['b', 'café', undefined],
    ]);
  });

  it('reads a CSV manifest as a stream too', async () => {
    const { store, deps } = setup();
    store.seed('jobs/c.csv', 'id,image,text\r\na,uploads/img/a.png,"red, circle"\r\nb,uploads/img/b.png,blue\r\n');
    expect(await ingestJob(kind('c', 'csv'), deps)).toMatchObject({ chunks: 1 });
    expect(store.text(jobKeys.chunk('c', 0))).toContain('"text":"red, circle"');
  });

  it('fails a job at ingest whose invalid lines alone pass the tolerated share (set in the manifest metadata)', async () => {
    const { store, sent, deps } = setup();
    store.seed('jobs/j.jsonl', lines(20, [1, 2, 3]), { 'tolerated-failure-percent': '10' });
    expect(await ingestJob(kind('j'), deps)).toMatchObject({ outcome: 'job-failed-at-ingest' });
    expect(sent).toHaveLength(0);
    expect(await readJobStatus(store, 'j')).toMatchObject({
      state: 'failed',
      stop: { reason: expect.stringMatching(/3 of 20 lines are invalid/) },
    });
  });
});

describe('Function: redriveJob', () => {
  it('re-sends stalled chunks and chunks with retryable errors, with a new generation', async () => {
    // Prepare: 4 chunks; 0 done clean, 1 done with IMAGE_MISSING, 2 done with IMAGE_UNREADABLE, 3 stalled.
    const { store, sent, deps } = setup();
    store.seed('jobs/j.jsonl', lines(40));
    await ingestJob(kind('j'), deps);
    sent.length = 0;
    const tree = { job: 'j', chunks: 4, fanout: 4 };
    const errorLine = (code: string) =>
      JSON.stringify({ id: 'x', status: 'error', error: { code, message: 'm' } }) + '\n';
    await recordChunkDone(store, tree, 0, 0, { results: 10, errors: 0 });
    store.seed(jobKeys.errors('j', 1), errorLine('IMAGE_MISSING'));
    await recordChunkDone(store, tree, 1, 0, { results: 9, errors: 1 });
    store.seed(jobKeys.errors('j', 2), errorLine('IMAGE_UNREADABLE'));
    await recordChunkDone(store, tree, 2, 0, { results: 9, errors: 1 });
    store.seed(jobKeys.stalled('j', 3), JSON.stringify({ chunk: 3, generation: 0, reason: 'r', at: 'a' }));
    store.seed(jobKeys.redrive('j'), JSON.stringify({ id: 'req-1' }));
    // Act
    const outcome = await redriveJob({ kind: 'job-redrive', job: 'j', key: jobKeys.redrive('j') }, deps);
    const again = await redriveJob({ kind: 'job-redrive', job: 'j', key: jobKeys.redrive('j') }, deps);
    // Assess
    expect(outcome).toEqual({ outcome: 'job-redriven', job: 'j', generation: 1, chunks: 2 });
    expect(sent).toEqual([
      { job: 'j', chunk: 1, route: 'queue', generation: 1 },
      { job: 'j', chunk: 3, route: 'queue', generation: 1 },
    ]);
    expect(again).toMatchObject({ outcome: 'redrive-ignored' });
  });

  it('finishes the routing of a job whose ingest gave up', async () => {
    let fail = true;
    const { store, sent, deps } = setup({ chunkSize: 1, batchThreshold: 10_000 });
    const flaky: IngestDeps = {
      ...deps,
      queue: {
        send: async (m) => {
          if (fail && m[0].chunk >= 1000) throw new Error('throttled');
          sent.push(...m);
        },
      },
    };
    store.seed('jobs/j.jsonl', lines(1500));
    await expect(ingestJob(kind('j'), flaky)).rejects.toThrow('throttled');
    fail = false;
    store.seed(jobKeys.redrive('j'), JSON.stringify({ id: 'r' }));
    expect(await redriveJob({ kind: 'job-redrive', job: 'j', key: jobKeys.redrive('j') }, flaky)).toMatchObject({
      outcome: 'job-routed',
    });
    expect(new Set(sent.map((m) => m.chunk)).size).toBe(1500);
    expect(sent).toHaveLength(1500);
  });
});

describe('Function: chunkName', () => {
  it('keeps listing order past 99,999 chunks', () => {
    const names = [0, 99_999, 100_000, 999_999, 1_000_000, 12_345_678].map(chunkName);
    expect(names).toEqual([...names].sort());
    expect(names[0]).toBe('00000');
    expect(names[2]).toBe('~100000');
  });
});

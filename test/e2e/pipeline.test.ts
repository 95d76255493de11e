/**
 * The S3 pipeline end to end, over HTTP against the embedded S3 server, with the real
 * handlers, the real reference model and no mock of S3.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobRecords } from '../../cli/bucket-commands.js';
import { readJobStatus } from '../../lambdas/core/job-status.js';
import { jobKeys, pairKeys } from '../../lambdas/core/keys.js';
import type { ObjectStore } from '../../lambdas/core/ports.js';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import type { LocalPipeline } from '../../local/local-pipeline.js';
import { inboxMaskKey } from '../helpers/inbox.js';
import { startTestPipeline } from '../helpers/local-pipeline.js';
import { parityPairs } from '../helpers/runtime.js';
import { withOverrides } from '../helpers/store-wrappers.js';

const decode = (b: Uint8Array) => new TextDecoder().decode(b);
const readRecord = async (store: ObjectStore, key: string) =>
  OutputRecordSchema.parse(JSON.parse(decode(await store.get(key))));

const start = startTestPipeline;

describe('Pipeline: local mode over the embedded S3 server', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  let png: Buffer;
  let png2: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-e2e-'));
    // Both mask forms, so that odd ids are tried in mask keys too.
    pipeline = await start(dir, { maskFormat: 'both' });
    png = await readFile(path.join(parityPairs, 'parity-00000.png'));
    png2 = await readFile(path.join(parityPairs, 'parity-00001.png'));
  });
  afterAll(async () => {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    { order: 'image first', id: 'order/image-first', first: 'image' },
    { order: 'text first', id: 'order/text-first', first: 'text' },
  ])('returns one result for a single pair arriving $order', async ({ id, first }) => {
    // Prepare
    const { store } = pipeline;
    const putImage = () => store.put(pairKeys.image(id, 'png'), png);
    const putText = () => store.put(pairKeys.text(id), 'a red circle');
    // Act
    if (first === 'image') {
      await putImage();
      await pipeline.idle();
      expect(await store.exists(pairKeys.result(id))).toBe(false);
      await putText();
    } else {
      await putText();
      await pipeline.idle();
      expect(await store.exists(pairKeys.result(id))).toBe(false);
      await putImage();
    }
    await pipeline.idle();
    // Assess
    const record = await readRecord(store, pairKeys.result(id));
    expect(record).toMatchObject({ id, status: 'ok', inputs: { image: `inbox/${id}.png`, text: 'a red circle' } });
    expect(await store.exists(await inboxMaskKey(store, id, record.model, 'mask'))).toBe(true);
  });

  it('returns one correct result when both halves arrive at once', async () => {
    const id = 'together';
    await Promise.all([
      pipeline.store.put(pairKeys.image(id, 'png'), png),
      pipeline.store.put(pairKeys.text(id), 'a red circle'),
    ]);
    await pipeline.idle();
    const body = decode(await pipeline.store.get(pairKeys.result(id)));
    expect(body.trim().split('\n')).toHaveLength(1);
    expect(OutputRecordSchema.parse(JSON.parse(body)).status).toBe('ok');
  });

  it.each(['nested/deeper/photo one', 'plus+sign', 'per%cent', 'café/naïve über', 'mix %2B+ é/ x'])(
    'handles the id %j in keys and events',
    async (id) => {
      await pipeline.store.put(pairKeys.image(id, 'png'), png);
      await pipeline.store.put(pairKeys.text(id), 'a blue star');
      await pipeline.idle();
      const record = await readRecord(pipeline.store, pairKeys.result(id));
      expect(record.id).toBe(id);
      expect(record.status).toBe('ok');
      const mask = record.status === 'ok' ? record.tasks.mask : null;
      expect(mask).toMatchObject({
        mask: await inboxMaskKey(pipeline.store, id, record.model, 'mask'),
        rle: { size: [128, 128] },
      });
    },
  );

  it('accounts for every manifest line exactly once: valid, invalid and missing-image lines', async () => {
    // Prepare
    const { store } = pipeline;
    await store.put('uploads/m1/a.png', png);
    await store.put('uploads/m1/b c.png', png2);
    const lines = [
      JSON.stringify({ id: 'a', image: 'uploads/m1/a.png', text: 'a red circle', camera: 7 }),
      JSON.stringify({ id: 'b c', image: 'uploads/m1/b c.png', text: 'a blue star' }),
      '{"id": "broken json',
      JSON.stringify({ id: 'no-text', image: 'uploads/m1/a.png' }),
      JSON.stringify({ id: 'missing', image: 'uploads/m1/nope.png', text: 'a red circle' }),
      JSON.stringify({ id: 'a', image: 'uploads/m1/a.png', text: 'duplicate id' }),
      JSON.stringify({ id: 'empty-text', image: 'uploads/m1/a.png', text: '   ' }),
      ...Array.from({ length: 6 }, (_, i) =>
        JSON.stringify({ id: `bulk/${i}`, image: 'uploads/m1/a.png', text: 'a green cross' }),
      ),
    ];
    // Act
    await store.put('jobs/m1.jsonl', lines.join('\n'));
    await pipeline.idle();
    // Assess
    const records = [];
    for await (const r of jobRecords(store, 'm1')) records.push(OutputRecordSchema.parse(r));
    expect(records).toHaveLength(lines.length);
    expect(new Set(records.map((r) => r.id)).size).toBe(lines.length);
    const byId = new Map(records.map((r) => [r.id, r]));
    const code = (id: string) => {
      const r = byId.get(id);
      return r?.status === 'error' ? r.error.code : r?.status;
    };
    expect(code('a')).toBe('ok');
    expect(byId.get('a')?.extra).toEqual({ camera: 7 });
    expect(code('b c')).toBe('ok');
    expect(code('line-3')).toBe('INPUT_INVALID');
    expect(code('no-text')).toBe('INPUT_INVALID');
    expect(code('missing')).toBe('IMAGE_MISSING');
    expect(code('a#line-6')).toBe('INPUT_INVALID');
    expect(code('empty-text')).toBe('TEXT_EMPTY');
    const status = await readJobStatus(store, 'm1');
    expect(status).toMatchObject({ total: 13, done: 13, pending: 0, failed: 5, complete: true, route: 'queue' });
    expect(await store.exists(jobKeys.success('m1'))).toBe(true);
  });

  it('does no harm when the same pair and manifest are uploaded again: the taken job name is refused where status shows it', async () => {
    // Prepare
    const { store } = pipeline;
    const id = 'dup';
    await store.put(pairKeys.image(id, 'png'), png);
    await store.put(pairKeys.text(id), 'a red circle');
    await pipeline.idle();
    const first = decode(await store.get(pairKeys.result(id)));
    await store.put('uploads/dup/a.png', png);
    const manifest = JSON.stringify({ id: 'x', image: 'uploads/dup/a.png', text: 'a red circle' });
    await store.put('jobs/dup.jsonl', manifest);
    await pipeline.idle();
    const parts = await store.list(jobKeys.results('dup'));
    // Act: S3 dates are whole seconds; the same bytes again within the second are the same upload.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await store.put(pairKeys.text(id), 'a red circle');
    await store.put('jobs/dup.jsonl', manifest);
    await store.put('jobs/dup.csv', 'id,image,text\ny,uploads/dup/a.png,a circle\n');
    // Nested in job dup's folder: never run, so job dup never counts its parts.
    await store.put('jobs/dup/parts.jsonl', manifest);
    await pipeline.idle();
    // Assess
    expect(decode(await store.get(pairKeys.result(id)))).toBe(first);
    expect((await store.list(jobKeys.results('dup'))).map((o) => o.key)).toEqual(parts.map((o) => o.key));
    const records = [];
    for await (const r of jobRecords(store, 'dup')) records.push(r);
    expect(records).toHaveLength(1);
    const status = await readJobStatus(store, 'dup');
    expect(status.refused?.map((r) => r.key).sort()).toEqual(['jobs/dup.csv', 'jobs/dup.jsonl']);
    expect(status.refused?.[0].reason).toContain('job dup already exists (from jobs/dup.jsonl');
  });

  it('never processes what is written under results/', async () => {
    // Prepare
    const { store } = pipeline;
    const before = (await store.list('results/')).length;
    // Act: objects that would be work anywhere else.
    await store.put('results/inbox/trap.png', png);
    await store.put('results/inbox/trap.txt', 'a red circle');
    await store.put('results/jobs/trap.jsonl', JSON.stringify({ id: 't', image: 'results/inbox/trap.png', text: 'x' }));
    await pipeline.idle();
    // Assess: only the three objects put, nothing derived from them.
    expect((await store.list('results/')).length).toBe(before + 3);
    expect(await store.exists(jobKeys.status('trap'))).toBe(false);
  });
});

describe('Pipeline: failures', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-e2e-fail-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('retries a chunk whose worker crashed mid-chunk, losing and duplicating nothing', async () => {
    // Prepare: the first write of chunk 1's errors part dies, after its results part is written.
    let crashes = 0;
    const pipeline = await start(dir, {
      wrapStore: (store) =>
        withOverrides(store, {
          put: async (key, body, type) => {
            if (key === jobKeys.errors('crash', 1) && crashes++ === 0) throw new Error('worker crashed');
            return store.put(key, body, type);
          },
        }),
    });
    try {
      const png = await readFile(path.join(parityPairs, 'parity-00002.png'));
      await pipeline.store.put('uploads/crash/p.png', png);
      const lines = Array.from({ length: 10 }, (_, i) =>
        JSON.stringify({ id: `p${i}`, image: 'uploads/crash/p.png', text: 'a red circle' }),
      );
      // Act
      await pipeline.store.put('jobs/crash.jsonl', lines.join('\n'));
      await pipeline.idle();
      // Assess
      // The crash, then at least one run that wrote it (a chunk slower than the 300 ms visibility
      // timeout may be delivered twice: SQS is at-least-once, the records below are exactly-once).
      expect(crashes).toBeGreaterThanOrEqual(2);
      const ids = [];
      for await (const r of jobRecords(pipeline.store, 'crash')) ids.push(r.id);
      expect(ids.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`).sort());
      expect(pipeline.deadLetters).toEqual([]);
      expect(await readJobStatus(pipeline.store, 'crash')).toMatchObject({ complete: true, done: 10 });
    } finally {
      await pipeline.close();
    }
  });

  it('moves a poison chunk to the dead-letter queue with its reason after its attempts, and status says stalled, why', async () => {
    // Prepare: chunk 0 can never be read.
    let reads = 0;
    const pipeline = await start(dir, {
      maxReceiveCount: 2,
      wrapStore: (store) =>
        withOverrides(store, {
          get: async (key) => {
            if (key === jobKeys.chunk('poison', 0)) {
              reads++;
              throw new Error('chunk object unreadable');
            }
            return store.get(key);
          },
        }),
    });
    try {
      await pipeline.store.put('uploads/poison/p.png', await readFile(path.join(parityPairs, 'parity-00002.png')));
      // Act
      await pipeline.store.put(
        'jobs/poison.jsonl',
        JSON.stringify({ id: 'p', image: 'uploads/poison/p.png', text: 'x' }),
      );
      await pipeline.idle();
      // Assess
      expect(reads).toBe(2);
      expect(pipeline.deadLetters).toHaveLength(1);
      expect(JSON.parse(pipeline.deadLetters[0].body)).toEqual({
        job: 'poison',
        chunk: 0,
        route: 'queue',
        generation: 0,
      });
      expect(pipeline.deadLetters[0].reason).toBe('Error: chunk object unreadable');
      expect(await readJobStatus(pipeline.store, 'poison')).toMatchObject({
        state: 'stalled',
        complete: false,
        pending: 1,
        stalled: [{ chunk: 0, reason: 'failed 2 attempts; the last: Error: chunk object unreadable' }],
      });
    } finally {
      await pipeline.close();
    }
  });
});

// Debian's AWS CLI (npm test's pretest installs it), not one a Python environment may put first on PATH.
const awsCli = '/usr/bin/aws';
describe('Pipeline: driven by the AWS CLI', () => {
  it('takes a pair with `aws s3 cp` and gives its result back the same way', async () => {
    // Prepare
    if (!existsSync(awsCli))
      throw new Error(`${awsCli} is missing: run \`npm test\` (its pretest installs it) or apt-get install -y awscli`);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-awscli-'));
    const pipeline = await start(dir);
    const aws = (...args: string[]) =>
      promisify(execFile)(awsCli, ['--endpoint-url', pipeline.endpoint, ...args], {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'S3RVER',
          AWS_SECRET_ACCESS_KEY: 'S3RVER',
          AWS_DEFAULT_REGION: 'us-east-1',
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      });
    try {
      const caption = path.join(dir, 'cli pair.txt');
      await writeFile(caption, 'a red circle');
      // Act
      await aws(
        's3',
        'cp',
        path.join(parityPairs, 'parity-00003.png'),
        `s3://${pipeline.bucket}/inbox/cli/cli pair.png`,
      );
      await aws('s3', 'cp', caption, `s3://${pipeline.bucket}/inbox/cli/cli pair.txt`);
      await pipeline.idle();
      const out = path.join(dir, 'result.json');
      await aws('s3', 'cp', `s3://${pipeline.bucket}/results/pairs/cli/cli pair.json`, out);
      // Assess
      const record = OutputRecordSchema.parse(JSON.parse(await readFile(out, 'utf8')));
      expect(record).toMatchObject({ id: 'cli/cli pair', status: 'ok', inputs: { text: 'a red circle' } });
    } finally {
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Pipeline: job controls', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  let png: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-e2e-controls-'));
    pipeline = await start(dir, { workers: 1, chunkSize: 2 });
    png = await readFile(path.join(parityPairs, 'parity-00004.png'));
    await pipeline.store.put('uploads/controls/p.png', png);
  });
  afterAll(async () => {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const lines = (n: number, missingFrom = n) =>
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        id: `p${i}`,
        image: i >= missingFrom ? 'uploads/controls/none.png' : 'uploads/controls/p.png',
        text: 'a red circle',
      }),
    ).join('\n');

  it('stops a job as failed once its error records pass the share its manifest tolerates, skipping the rest', async () => {
    // Prepare: 40 lines, all but the first 4 with a missing image; 10 % tolerated (4 errors).
    const { submitManifest } = await import('../../cli/bucket-commands.js');
    const file = path.join(dir, 'tolerate.jsonl');
    await writeFile(file, lines(40, 4));
    // Act
    await submitManifest(pipeline.store, file, { job: 'tolerate', progress: false, toleratedFailurePercent: 10 });
    await pipeline.idle();
    // Assess
    const status = await readJobStatus(pipeline.store, 'tolerate');
    expect(status).toMatchObject({ state: 'failed', complete: false, stop: { state: 'failed' } });
    expect(status.stop?.reason).toMatch(/^more than 4 error records \(10 % of 40 lines tolerated\)/);
    expect(status.done).toBeLessThan(40);
    expect(status.failed).toBeGreaterThan(4);
  });

  it('cancels a job: chunks not started are not run, and status says cancelled', async () => {
    // Prepare: a job held back from running until it is cancelled.
    const { cancelJob } = await import('../../cli/bucket-commands.js');
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = await start(dir, {
      chunkSize: 2,
      wrapStore: (store) =>
        withOverrides(store, {
          get: async (key) => {
            if (key.includes('/chunks/')) await held;
            return store.get(key);
          },
        }),
    });
    try {
      await slow.store.put('uploads/controls/p.png', png);
      await slow.store.put('jobs/cancel-me.jsonl', lines(20));
      // Act: wait until it is routed, cancel it, then let the workers go.
      for (
        let i = 0;
        i < 100 && (await readJobStatus(slow.store, 'cancel-me').catch(() => null))?.state !== 'running';
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const cancelled = await cancelJob(slow.store, 'cancel-me', 'changed my mind');
      release();
      await slow.idle();
      // Assess
      expect(cancelled.state).toBe('cancelled');
      const status = await readJobStatus(slow.store, 'cancel-me');
      expect(status).toMatchObject({ state: 'cancelled', stop: { reason: 'changed my mind' }, complete: false });
      // At most the two chunks the two workers held when it was cancelled ran.
      expect(status.done).toBeLessThanOrEqual(4);
      await expect(cancelJob(slow.store, 'cancel-me')).rejects.toThrow(/already stopped/);
    } finally {
      release();
      await slow.close();
    }
  });
});

describe('Pipeline: inbox halves by any extension case', () => {
  it('runs a pair whose extensions are upper case (cat.PNG + cat.TXT), and refuses two captions for one id', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-e2e-case-'));
    const pipeline = await start(dir);
    try {
      const png = await readFile(path.join(parityPairs, 'parity-00005.png'));
      // Act
      await pipeline.store.put('inbox/case/cat.PNG', png);
      await pipeline.store.put('inbox/case/cat.TXT', 'a red circle');
      await pipeline.store.put('inbox/case/two.png', png);
      await pipeline.store.put('inbox/case/two.txt', 'a red circle');
      await pipeline.idle();
      await pipeline.store.put('inbox/case/two.Txt', 'a blue star');
      await pipeline.idle();
      // Assess
      expect(await readRecord(pipeline.store, pairKeys.result('case/cat'))).toMatchObject({
        status: 'ok',
        inputs: { image: 'inbox/case/cat.PNG', text: 'a red circle' },
      });
      expect(await readRecord(pipeline.store, pairKeys.result('case/two'))).toMatchObject({
        status: 'error',
        error: {
          code: 'INPUT_INVALID',
          message: "more than one caption for id 'case/two': inbox/case/two.Txt, inbox/case/two.txt",
        },
      });
    } finally {
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Pipeline: size limits before download', () => {
  it('refuses a caption over the limit from its headers, without downloading it', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-e2e-size-'));
    const pipeline = await start(dir);
    try {
      await pipeline.store.put('inbox/size/big.png', await readFile(path.join(parityPairs, 'parity-00006.png')));
      // Act
      await pipeline.store.put('inbox/size/big.txt', 'a red circle '.repeat(6000));
      await pipeline.idle();
      // Assess
      expect(await readRecord(pipeline.store, pairKeys.result('size/big'))).toMatchObject({
        status: 'error',
        error: { code: 'TEXT_TOO_MANY_BYTES', message: 'text is 78000 bytes; the limit is 65536 (not downloaded)' },
      });
    } finally {
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

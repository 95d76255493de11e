/**
 * A caption replaced while its pair runs, over HTTP against the embedded S3 server with the real
 * handlers: the older run's record write is held at the server until the newer record is in,
 * and the record that stays is the newer caption's.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxStatus, sendPair } from '../../cli/bucket-commands.js';
import { bareEtag } from '../../lambdas/core/inbox.js';
import { pairKeys } from '../../lambdas/core/keys.js';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import type { LocalPipeline } from '../../local/local-pipeline.js';
import { total } from '../../local/s3-front.js';
import { startTestPipeline } from '../helpers/local-pipeline.js';
import { parityPairs } from '../helpers/runtime.js';

describe('Pipeline: an inbox caption replaced while its pair runs', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-inbox-race-'));
    pipeline = await startTestPipeline(dir);
  });
  afterAll(async () => {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the newer caption’s record though the older one’s write reaches the server last', async () => {
    // Prepare: the first PUT of the record is held 3 s at the server, past the newer run's.
    const { store, front } = pipeline;
    const id = 'race/pair';
    await store.put(pairKeys.text(id), 'a red circle');
    await pipeline.idle();
    front.setFaults({
      stall: { rate: 1, ms: 3000, limit: 1, only: { methods: ['PUT'], key: '^results/pairs/race/pair\\.json$' } },
    });
    front.resetCounters();
    await store.put(pairKeys.image(id, 'png'), await readFile(path.join(parityPairs, 'parity-00000.png')));
    for (let waited = 0; total(front.counters.stalls) === 0; waited += 20) {
      if (waited > 30_000) throw new Error('the older run never wrote its record');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Act: the caption is replaced while the older record's write is held.
    await store.put(pairKeys.text(id), 'a blue star');
    await pipeline.idle();
    front.setFaults({});
    // Assess: the newer record stays; the held write was refused (the newer had landed), not made again.
    const record = OutputRecordSchema.parse(JSON.parse(new TextDecoder().decode(await store.get(pairKeys.result(id)))));
    expect(record).toMatchObject({ id, status: 'ok', inputs: { text: 'a blue star' } });
    expect(total(front.counters.preconditionFailures)).toBeGreaterThanOrEqual(1);
    const caption = (await store.list(pairKeys.text(id)))[0];
    const { metadata } = await store.read(pairKeys.result(id));
    expect(metadata['inbox-text-etag']).toBe(bareEtag(caption.etag!));
    expect(pipeline.ingestFailures).toEqual([]);
    const waiting = await inboxStatus(store, { json: true });
    expect(waiting).not.toContain(`"id":"${id}"`);
  });

  it('gives `fusebatch pair` the record of the caption it sent, not the id’s earlier record', async () => {
    // Prepare
    const image = path.join(parityPairs, 'parity-00001.png');
    const id = 'again/pair';
    const first = await sendPair(pipeline.store, image, 'a red circle', { id, timeoutMs: 60_000 });
    // Act: the same id again, with another caption; its record is still the first one when polling starts.
    const second = await sendPair(pipeline.store, image, 'a blue star', { id, timeoutMs: 60_000 });
    // Assess
    expect(first.inputs.text).toBe('a red circle');
    expect(second.inputs.text).toBe('a blue star');
  });
});

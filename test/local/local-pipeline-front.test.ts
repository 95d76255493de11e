/**
 * The local pipeline's endpoint is the S3 front: its options reach the front, and close() lets
 * nothing of it (or of s3rver behind it) hold the process open, stalled requests included.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../lambdas/adapters/s3-store.js';
import { LOCAL_BUCKET } from '../../local/local-settings.js';
import { startTestPipeline } from '../helpers/local-pipeline.js';

const settled = (ms: number) => new Promise<false>((resolve) => setTimeout(() => resolve(false), ms));
const tcpHandles = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));

describe('local pipeline behind the S3 front', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-local-front-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serves conditional writes and faults on its endpoint, and close() leaves no socket open', async () => {
    // Arrange: every GET stalls until its client gives up.
    const before = tcpHandles();
    const pipeline = await startTestPipeline(dir, {
      workers: 1,
      faults: { stall: { rate: 1 }, only: { methods: ['GET'] } },
    });
    const s3 = createS3Client({ bucket: LOCAL_BUCKET, endpoint: pipeline.endpoint });
    const create = () =>
      s3.send(new PutObjectCommand({ Bucket: LOCAL_BUCKET, Key: 'notes/once.txt', Body: 'x', IfNoneMatch: '*' }));
    // Act
    await create();
    const again = await create().catch((error: Error) => error.name);
    const stalled = pipeline.store.get('notes/once.txt').catch(() => 'gave up');
    while (!pipeline.front.counters.stalls.GET) await settled(10);
    const closing = performance.now();
    const closed = await Promise.race([pipeline.close().then(() => true), settled(5000)]);
    const closeMs = performance.now() - closing;
    await Promise.race([stalled, settled(5000)]);
    await settled(100);
    // Assert
    expect(pipeline.endpoint).toBe(pipeline.front.endpoint);
    expect(again).toBe('PreconditionFailed');
    expect(closed).toBe(true);
    expect(closeMs).toBeLessThan(2000);
    expect(tcpHandles()).toEqual(before);
  });
});

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submitManifest } from '../../cli/bucket-commands.js';
import { jobKeys } from '../../lambdas/core/keys.js';
import { MemoryStore } from '../helpers/memory-store.js';

describe('Function: submitManifest', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-submit-'));
    await mkdir(path.join(dir, 'job/imgs'), { recursive: true });
    await writeFile(path.join(dir, 'job/imgs/a.png'), 'png bytes');
    await writeFile(path.join(dir, 'secret.txt'), 'do not upload');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['a path above the manifest', '../secret.txt', 2],
    ['an absolute path', '/etc/passwd', 2],
    ['a path that climbs out through a subfolder', 'imgs/../../secret.txt', 2],
  ])('refuses %s, naming the line, before uploading anything', async (_what, image, line) => {
    // Prepare
    const store = new MemoryStore();
    const manifest = path.join(dir, 'job/manifest.jsonl');
    await writeFile(
      manifest,
      [JSON.stringify({ id: 'a', image: 'imgs/a.png', text: 't' }), JSON.stringify({ id: 'b', image, text: 't' })].join(
        '\n',
      ),
    );
    // Act
    const submit = submitManifest(store, manifest, { progress: false });
    // Assess
    await expect(submit).rejects.toThrow(new RegExp(`line ${line}: image '.*' is outside the manifest's folder`));
    expect(store.calls.put).toBe(0);
  });

  it('uploads the images under its folder and rewrites their keys', async () => {
    const store = new MemoryStore();
    const manifest = path.join(dir, 'job/ok.jsonl');
    await writeFile(manifest, JSON.stringify({ id: 'a', image: 'imgs/a.png', text: 't' }));
    await submitManifest(store, manifest, { progress: false });
    expect(store.text('uploads/ok/imgs/a.png')).toBe('png bytes');
    expect(JSON.parse(store.text('jobs/ok.jsonl').trim())).toEqual({
      id: 'a',
      image: 'uploads/ok/imgs/a.png',
      text: 't',
    });
  });

  it.each([
    ['a name that is not a job name', (_store: MemoryStore) => {}, 'a/b', "'a/b' is not a job name"],
    [
      'a name an earlier job holds',
      (store: MemoryStore) => store.seed(jobKeys.lease('taken'), '{}'),
      'taken',
      'job taken already exists in this bucket',
    ],
    [
      'a name whose records remain',
      (store: MemoryStore) => store.seed(jobKeys.part('old', 0), '{}'),
      'old',
      'job old already exists in this bucket',
    ],
  ])('refuses %s before uploading anything', async (_what, prepare, job, message) => {
    const store = new MemoryStore();
    prepare(store);
    const manifest = path.join(dir, 'job/ok.jsonl');
    await writeFile(manifest, JSON.stringify({ id: 'a', image: 'imgs/a.png', text: 't' }));
    await expect(submitManifest(store, manifest, { job, progress: false })).rejects.toThrow(message);
    expect(store.calls.put).toBe(0);
  });

  it('names the job after a manifest whose file name is not a job name, made into one', async () => {
    const store = new MemoryStore();
    const manifest = path.join(dir, 'job/my run (2).jsonl');
    await writeFile(manifest, JSON.stringify({ id: 'a', image: 'imgs/a.png', text: 't' }));
    const { job } = await submitManifest(store, manifest, { progress: false });
    expect(job).toBe('my-run-2');
    await expect(store.exists('jobs/my-run-2.jsonl')).resolves.toBe(true);
  });
});

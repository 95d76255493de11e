/**
 * `fusebatch query` keeps what it downloaded by bucket, key and ETag: a second query over an
 * unchanged bucket reads nothing from it, and a rewritten object is fetched again.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultCacheDir, ObjectCache } from '../../cli/adapters/object-cache.js';
import { downloadRecords } from '../../cli/query.js';
import { ReaderStore } from '../helpers/reader-store.js';

const line = (id: string, status = 'ok') => `{"id":"${id}","status":"${status}"}`;

describe('query: a cache of downloaded records, by ETag', () => {
  let dir: string;
  let store: ReaderStore;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-query-cache-'));
    store = new ReaderStore();
    for (let i = 0; i < 40; i++)
      await store.put(`results/jobs/j/parts/${String(i).padStart(6, '0')}.jsonl`, `${line(`p${i}`)}\n`);
    await store.put('results/pairs/single.json', line('single')); // no newline at the end
    await store.put('results/jobs/j/_masks/p0.mask.png', 'not a record');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const download = (cache: ObjectCache, name: string) =>
    downloadRecords(store, ['results/'], path.join(dir, name), { cache }).then(async (d) => ({
      ...d,
      text: await readFile(path.join(dir, name), 'utf8'),
    }));

  it('downloads nothing the second time, and the file is the same', async () => {
    // Prepare
    const cache = new ObjectCache(path.join(dir, 'cache'), 'http://local//bucket');
    const first = await download(cache, 'a.jsonl');
    const gets = store.gets;
    // Act
    const second = await download(new ObjectCache(path.join(dir, 'cache'), 'http://local//bucket'), 'b.jsonl');
    // Assess
    expect(first).toMatchObject({ objects: 41, downloaded: 41 });
    expect(gets).toBe(41); // never the mask
    expect(second).toMatchObject({ objects: 41, downloaded: 0 });
    expect(store.gets).toBe(gets);
    expect(second.text).toBe(first.text);
    expect(first.text.split('\n')).toHaveLength(42); // 41 lines and the final newline
  });

  it('fetches a changed object again and keeps only its new version', async () => {
    // Prepare
    const cache = new ObjectCache(path.join(dir, 'cache'), 'http://local//bucket');
    await download(cache, 'a.jsonl');
    await store.put('results/jobs/j/parts/000007.jsonl', `${line('p7', 'error')}\n`);
    store.fetched.length = 0;
    // Act
    const second = await download(cache, 'b.jsonl');
    // Assess
    expect(second.downloaded).toBe(1);
    expect(store.fetched).toEqual(['results/jobs/j/parts/000007.jsonl']);
    expect(second.text).toContain(line('p7', 'error'));
    expect(second.text).not.toContain(line('p7'));
    const versions = async (root: string): Promise<number> => {
      let n = 0;
      for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) if (entry.isFile()) n++;
      return n;
    };
    expect(await versions(path.join(dir, 'cache'))).toBe(41);
  });

  it('keeps buckets apart: the same key and ETag in another bucket is downloaded', async () => {
    await download(new ObjectCache(path.join(dir, 'cache'), 'http://local//bucket'), 'a.jsonl');
    const other = await download(new ObjectCache(path.join(dir, 'cache'), 's3://bucket'), 'b.jsonl');
    expect(other.downloaded).toBe(41);
  });

  it('fetches at most the window at once, and without a cache every time', async () => {
    const slow = new ReaderStore(() => 2);
    for (const [key, body] of store.objects) slow.objects.set(key, body);
    await downloadRecords(slow, ['results/'], path.join(dir, 'a.jsonl'), { concurrency: 4 });
    await downloadRecords(slow, ['results/'], path.join(dir, 'b.jsonl'), { concurrency: 4 });
    expect(slow.maxInFlight).toBe(4);
    expect(slow.gets).toBe(82);
  });

  it('lives in FUSEBATCH_CACHE_DIR, else under XDG_CACHE_HOME, else ~/.cache', () => {
    expect(defaultCacheDir({ FUSEBATCH_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' })).toBe('/c');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe(path.join('/x', 'fusebatch'));
    expect(defaultCacheDir({})).toBe(path.join(os.homedir(), '.cache', 'fusebatch'));
  });
});

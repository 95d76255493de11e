/**
 * `fusebatch status --inbox`: the inbox pairs without an up-to-date record, grouped by id, with
 * their halves, what they lack and how long they have waited, and the inbox keys refused.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { inboxStatus } from '../../cli/bucket-commands.js';
import { pairKeys } from '../../lambdas/core/keys.js';
import { MemoryStore } from '../helpers/memory-store.js';

const at = (time: string) => vi.setSystemTime(new Date(`2026-11-30T${time}Z`));

describe('Function: inboxStatus', () => {
  let store: MemoryStore;
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    // Prepare: each object's lastModified is the (fake) time it is written.
    store = new MemoryStore();
    at('10:00:00');
    store.seed(pairKeys.image('cat', 'png'), 'png');
    store.seed(pairKeys.image('cat.q', 'png'), 'png'); // id cat.q, listed between cat's halves
    store.seed(pairKeys.text('done'), 'a red circle');
    store.seed(pairKeys.image('done', 'png'), 'png');
    store.seed(pairKeys.text('changed'), 'a red circle');
    store.seed(pairKeys.image('changed', 'png'), 'png');
    store.seed('inbox/notes.md', 'not a half');
    at('10:00:05');
    store.seed(pairKeys.result('done'), '{}\n');
    store.seed(pairKeys.result('changed'), '{}\n');
    store.seed(pairKeys.mask('changed', '0123456789abcdef', 'mask'), 'png'); // under results/pairs/ too: not a record
    at('10:01:00');
    store.seed(pairKeys.text('cat'), 'a cat');
    store.seed(pairKeys.text('changed'), 'a blue star');
    store.seed(pairKeys.text('dir/dog'), 'a dog');
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('lists, as JSON lines, each id waiting for a half or whose record predates a half, and the keys refused', async () => {
    // Act
    const out = await inboxStatus(store, { json: true, now: new Date('2026-11-30T10:02:00Z') });
    // Assess: `done` has an up-to-date record; `cat` and `cat.q` are separate ids.
    const lines = out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines).toEqual([
      {
        id: 'cat',
        images: ['inbox/cat.png'],
        texts: ['inbox/cat.txt'],
        missing: [],
        result: 'none',
        newestHalfAt: '2026-11-30T10:01:00.000Z',
        newestHalfAgeSeconds: 60,
      },
      {
        id: 'cat.q',
        images: ['inbox/cat.q.png'],
        texts: [],
        missing: ['text'],
        result: 'none',
        newestHalfAt: '2026-11-30T10:00:00.000Z',
        newestHalfAgeSeconds: 120,
      },
      {
        id: 'changed',
        images: ['inbox/changed.png'],
        texts: ['inbox/changed.txt'],
        missing: [],
        result: 'older',
        newestHalfAt: '2026-11-30T10:01:00.000Z',
        newestHalfAgeSeconds: 60,
      },
      {
        id: 'dir/dog',
        images: [],
        texts: ['inbox/dir/dog.txt'],
        missing: ['image'],
        result: 'none',
        newestHalfAt: '2026-11-30T10:01:00.000Z',
        newestHalfAgeSeconds: 60,
      },
      { key: 'inbox/notes.md', refused: expect.stringContaining('inbox/ takes images') },
    ]);
  });

  it('prints the same as a table: one row a waiting id, then the refused keys with why', async () => {
    // Act
    const out = await inboxStatus(store, { json: false, now: new Date('2026-11-30T10:02:00Z') });
    // Assess
    const lines = out.split('\n');
    expect(lines[1].split(/\s{2,}/)).toEqual(['id', 'present', 'missing', 'result', 'newest half', 'age (s)']);
    const row = (id: string) => lines.find((line) => line.startsWith(`${id} `))?.split(/\s{2,}/);
    expect(row('cat.q')).toEqual(['cat.q', 'inbox/cat.q.png', 'text', 'none', '2026-11-30T10:00:00.000Z', '120']);
    expect(row('changed')).toEqual([
      'changed',
      'inbox/changed.png, inbox/changed.txt',
      '-',
      'older than a half',
      '2026-11-30T10:01:00.000Z',
      '60',
    ]);
    expect(row('done')).toBeUndefined();
    expect(out).toContain('(4 rows)');
    expect(out).toMatch(
      /\ninbox keys refused \(never run\)\ninbox\/notes\.md: inbox\/ takes images .*\.txt captions\n$/,
    );
  });
});

describe('CLI: fusebatch status', () => {
  it('asks for a job or --inbox when given neither', async () => {
    // Act
    const bin = path.resolve(import.meta.dirname, '../../bin/fusebatch.mjs');
    const failure = await promisify(execFile)(process.execPath, [bin, 'status', '--endpoint', 'http://127.0.0.1:9'], {
      timeout: 60_000,
    }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    // Assess
    expect(failure?.code).toBe(1);
    expect(failure?.stderr.trim()).toBe('fusebatch: status needs a job, or --inbox');
  });
});

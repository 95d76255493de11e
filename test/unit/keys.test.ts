import { describe, expect, it } from 'vitest';
import { classifyKey, decodeEventKey, encodeEventKey, jobKeys, pairKeys } from '../../lambdas/core/keys.js';

describe('Function: classifyKey', () => {
  it.each([
    { key: 'inbox/cat.png', expected: { kind: 'pair-image', id: 'cat' } },
    { key: 'inbox/a/b/photo 1.JPEG', expected: { kind: 'pair-image', id: 'a/b/photo 1' } },
    { key: 'inbox/a/b/photo 1.txt', expected: { kind: 'pair-text', id: 'a/b/photo 1' } },
    { key: 'inbox/v1.2/x.y.webp', expected: { kind: 'pair-image', id: 'v1.2/x.y' } },
    { key: 'jobs/2026/run-7.jsonl', expected: { kind: 'job-manifest', job: '2026/run-7', format: 'jsonl' } },
    { key: 'jobs/batch.CSV', expected: { kind: 'job-manifest', job: 'batch', format: 'csv' } },
  ])('returns $expected.kind for $key', ({ key, expected }) => {
    expect(classifyKey(key)).toEqual({ ...expected, key });
  });

  it.each([
    'results/pairs/cat.json',
    'results/jobs/j/parts/00000.jsonl',
    'state/jobs/j/status.json',
    'inbox/notes.md',
    'inbox/.png',
    'inbox/folder/',
    'jobs/manifest.json',
    'elsewhere/cat.png',
  ])('ignores %s', (key) => {
    expect(classifyKey(key).kind).toBe('ignored');
  });
});

describe('Function: decodeEventKey', () => {
  it.each([
    { encoded: 'inbox/my+photo.png', key: 'inbox/my photo.png' },
    { encoded: 'inbox/a%2Bb.png', key: 'inbox/a+b.png' },
    { encoded: 'inbox/100%25.txt', key: 'inbox/100%.txt' },
    { encoded: 'inbox/caf%C3%A9/%C3%BCber.png', key: 'inbox/café/über.png' },
  ])('decodes $encoded as AWS sends it', ({ encoded, key }) => {
    expect(decodeEventKey(encoded)).toBe(key);
  });

  it.each(['inbox/a b+c%d/é ü.png', 'jobs/x y.jsonl', "inbox/(it's)*!~.txt"])(
    'round-trips %s through encodeEventKey',
    (key) => {
      expect(decodeEventKey(encodeEventKey(key))).toBe(key);
      expect(encodeEventKey(key)).not.toContain(' ');
    },
  );
});

describe('Key layout', () => {
  it('keeps everything the pipeline writes out of inbox/ and jobs/', () => {
    const written = [
      pairKeys.result('a/b'),
      pairKeys.mask('a/b', 'mask'),
      jobKeys.part('j', 3),
      jobKeys.errors('j', 3),
      jobKeys.mask('j', 'a/b', 'mask'),
      jobKeys.success('j'),
      jobKeys.status('j'),
      jobKeys.chunk('j', 3),
    ];
    for (const key of written) expect(classifyKey(key).kind).toBe('ignored');
    expect(jobKeys.part('j', 3)).toBe('results/jobs/j/parts/00003.jsonl');
  });
});

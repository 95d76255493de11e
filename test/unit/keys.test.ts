import { describe, expect, it } from 'vitest';
import {
  classifyKey,
  decodeEventKey,
  encodeEventKey,
  jobKeys,
  jobNameProblem,
  pairKeys,
  toJobName,
} from '../../lambdas/core/keys.js';

describe('Function: classifyKey', () => {
  it.each([
    { key: 'inbox/cat.png', expected: { kind: 'pair-image', id: 'cat' } },
    { key: 'inbox/a/b/photo 1.JPEG', expected: { kind: 'pair-image', id: 'a/b/photo 1' } },
    { key: 'inbox/a/b/photo 1.txt', expected: { kind: 'pair-text', id: 'a/b/photo 1' } },
    { key: 'inbox/v1.2/x.y.webp', expected: { kind: 'pair-image', id: 'v1.2/x.y' } },
    { key: 'jobs/run-7.v2_final.jsonl', expected: { kind: 'job-manifest', job: 'run-7.v2_final', format: 'jsonl' } },
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
    'jobs/a/parts.redrive',
  ])('ignores %s', (key) => {
    expect(classifyKey(key).kind).toBe('ignored');
  });

  it.each([
    ['inbox/_hidden.png', 'starting with _'],
    ['inbox/a/.dot/cat.txt', 'starting with _ or .'],
    ['inbox/a//cat.png', 'empty segments'],
    ['inbox/line\nbreak.png', 'control characters'],
  ])('ignores the inbox key %j, whose record no reader would see, and says why', (key, why) => {
    const kind = classifyKey(key);
    expect(kind.kind).toBe('ignored');
    expect(kind).toHaveProperty('reason', expect.stringContaining(why));
  });

  it.each([
    // Nested in job a's folders: results/jobs/a/parts/parts/... would count as job a's.
    'jobs/a/parts.jsonl',
    'jobs/2026/run-7.csv',
    // Hidden from Athena and query, which skip _ and . names.
    'jobs/_x.jsonl',
    'jobs/.x.csv',
    'jobs/a b.jsonl',
  ])('refuses the manifest %s with a reason naming the rule', (key) => {
    const kind = classifyKey(key);
    expect(kind.kind).toBe('job-refused');
    expect(kind).toHaveProperty('reason', expect.stringContaining('is not a job name'));
  });
});

describe('Job names', () => {
  it.each(['a', 'run-7', 'v1.2_final', 'A'.repeat(128)])('accepts %s', (name) => {
    expect(jobNameProblem(name)).toBeNull();
  });

  it.each(['', 'a/b', '_a', '.a', '-a', 'a b', 'é', 'A'.repeat(129)])('refuses %j', (name) => {
    expect(jobNameProblem(name)).toContain('is not a job name');
  });

  it.each([
    ['my photos 2026-11-30T10:00:00.000Z', 'my-photos-2026-11-30T10-00-00.000Z'],
    ['__x', 'x'],
    ['???', 'job'],
  ])('makes a valid name of %j', (text, name) => {
    expect(toJobName(text)).toBe(name);
    expect(jobNameProblem(toJobName(text))).toBeNull();
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
      pairKeys.mask('a/b', '0123456789abcdef', 'mask'),
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

/**
 * The access table's rules that hold for every role, checked on real keys with IAM's own
 * matching (test/helpers/iam-patterns.ts); the stack test checks the synthesized policies.
 */
import { describe, expect, it } from 'vitest';
import { BUCKET_ACCESS } from '../../lambdas/core/access.js';
import { INPUT_PREFIXES, jobKeys, PREFIXES, pairKeys } from '../../lambdas/core/keys.js';
import { iamPatternMatches } from '../helpers/iam-patterns.js';

const roles = Object.entries(BUCKET_ACCESS);
const allows = (patterns: readonly string[], key: string) => patterns.some((p) => iamPatternMatches(p, key));

describe('IAM pattern matching (the tests’ oracle)', () => {
  it('matches * across folders and over nothing, ? over one character, and everything else literally', () => {
    expect(iamPatternMatches('state/jobs/*/stop.json', 'state/jobs/2026/run-7/stop.json')).toBe(true);
    expect(iamPatternMatches('inbox/*', 'inbox/')).toBe(true);
    expect(iamPatternMatches('results/jobs/*/errors/*', 'results/jobs/j/parts/00000.jsonl')).toBe(false);
    expect(iamPatternMatches('state/jobs/*/stop.json', 'state/jobs/j/stopxjson')).toBe(false);
    expect(iamPatternMatches('a?c', 'abc')).toBe(true);
    expect(iamPatternMatches('a?c', 'ac')).toBe(false);
    expect(iamPatternMatches('inbox/*', 'xinbox/a')).toBe(false);
  });
});

describe('The bucket access table', () => {
  it.each(roles)(
    '%s writes nothing under inbox/, jobs/ or uploads/: no write of the pipeline triggers it again',
    (_, access) => {
      for (const key of [
        ...INPUT_PREFIXES.map((prefix) => `${prefix}a/cat.png`),
        pairKeys.text('a/cat'),
        jobKeys.redrive('j'),
      ]) {
        expect(allows(access.write, key), key).toBe(false);
      }
    },
  );

  it.each(roles)('%s may list wherever it may read, so that a missing key it reads is a 404', (_, access) => {
    for (const pattern of access.read) expect(access.list).toContain(pattern);
  });

  it.each(roles)(
    '%s has no grant on the whole bucket, and none outside the four prefixes and uploads/',
    (_, access) => {
      const roots = [...Object.values(PREFIXES), ...INPUT_PREFIXES];
      for (const pattern of [...access.read, ...access.write, ...access.list]) {
        expect(allows([pattern], 'elsewhere/x'), pattern).toBe(false);
        expect(
          roots.some((root) => pattern.startsWith(root)),
          pattern,
        ).toBe(true);
      }
    },
  );

  it('keeps the worker from a job’s status, chunks and lease, and the ingest function from its records', () => {
    const { ingest, worker, batchJob } = BUCKET_ACCESS;
    expect(batchJob).toEqual(worker);
    for (const key of [jobKeys.status('j'), jobKeys.chunk('j', 0), jobKeys.lease('j'), jobKeys.routed('j')]) {
      expect(allows(worker.write, key), key).toBe(false);
      expect(allows(ingest.write, key), key).toBe(true);
    }
    for (const key of [jobKeys.part('j', 0), jobKeys.errors('j', 0), jobKeys.mask('j', 'p', 'seg')]) {
      expect(allows(ingest.write, key), key).toBe(false);
      expect(allows(worker.write, key), key).toBe(true);
    }
  });
});

import { describe, expect, it } from 'vitest';
import { deriveJobStatus, type JobStatusDocument } from '../../lambdas/core/job-status.js';
import { jobKeys } from '../../lambdas/core/keys.js';

const doc: JobStatusDocument = {
  job: 'j',
  manifest: 'jobs/j.jsonl',
  route: 'queue',
  lines: 12,
  invalid: 2,
  chunkSizes: [4, 4, 2],
  createdAt: '2026-11-26T10:00:00.000Z',
};
const at = (minute: number) => new Date(Date.UTC(2026, 10, 26, 10, minute));

describe('Function: deriveJobStatus', () => {
  it('returns everything pending but invalid lines when no part exists', () => {
    expect(deriveJobStatus(doc, [], new Map())).toEqual({
      job: 'j',
      route: 'queue',
      total: 12,
      done: 2,
      failed: 2,
      pending: 10,
      chunks: { total: 3, done: 0 },
      started: doc.createdAt,
      finished: null,
      complete: false,
    });
  });

  it('counts a chunk only when both its results part and errors part exist', () => {
    const parts = [
      { key: jobKeys.part('j', 0), lastModified: at(1) },
      { key: jobKeys.errors('j', 0), lastModified: at(2) },
      { key: jobKeys.part('j', 1), lastModified: at(3) }, // errors part not yet written
      { key: jobKeys.mask('j', 'p', 'mask') },
    ];
    const status = deriveJobStatus(doc, parts, new Map([[0, 1]]));
    expect(status).toMatchObject({ done: 6, failed: 3, pending: 6, chunks: { total: 3, done: 1 }, complete: false });
  });

  it('returns complete with the time the last chunk finished', () => {
    const parts = [0, 1, 2].flatMap((c) => [
      { key: jobKeys.part('j', c), lastModified: at(c + 1) },
      { key: jobKeys.errors('j', c), lastModified: at(c + 5) },
    ]);
    const status = deriveJobStatus(doc, parts, new Map());
    expect(status).toMatchObject({ done: 12, pending: 0, complete: true, finished: at(7).toISOString() });
  });
});

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { errorCodesMarkdown } from '../../lambdas/core/error-codes-doc.js';
import { ErrorRecordSchema, ResultRecordSchema, recordJsonSchemas } from '../../lambdas/core/records.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('Contracts: generated files', () => {
  it.each(Object.keys(recordJsonSchemas()))('keeps schemas/%s in step with the zod schema', async (name) => {
    const committed = JSON.parse(await readFile(path.join(root, 'schemas', name), 'utf8'));
    expect(committed, 'run `npm run schemas`').toEqual(recordJsonSchemas()[name]);
  });

  it('keeps docs/error-codes.md in step with the error-code table', async () => {
    expect(await readFile(path.join(root, 'docs', 'error-codes.md'), 'utf8'), 'run `npm run schemas`').toBe(
      errorCodesMarkdown(),
    );
  });
});

describe('Schema: records', () => {
  const base = {
    id: 'a/b',
    inputs: { image: 'a/b.png', text: 'a red circle' },
    model: { name: 'm', version: '1', sha256: 'a'.repeat(64) },
    engine: 'wasm',
  };

  it('accepts a result record with one entry per task kind', () => {
    const record = {
      ...base,
      status: 'ok',
      tasks: {
        shape: { label: 'circle', score: 0.9, top: [{ label: 'circle', score: 0.9 }] },
        colors: { labels: ['red'], scores: { red: 0.99, blue: 0.01 } },
        match: { score: 0.7, positive: true },
        count: { value: 1.02 },
        mask: {
          mask: 'results/pairs/a/b.mask.png',
          width: 96,
          height: 96,
          coverage: 0.1,
          box: { x: 1, y: 2, width: 3, height: 4 },
        },
      },
    };
    expect(ResultRecordSchema.parse(record)).toEqual(record);
  });

  it('rejects an error record with an unknown code', () => {
    const result = ErrorRecordSchema.safeParse({ ...base, status: 'error', error: { code: 'OOPS', message: 'x' } });
    expect(result.success).toBe(false);
    expect(result.error!.issues[0].path).toEqual(['error', 'code']);
  });
});

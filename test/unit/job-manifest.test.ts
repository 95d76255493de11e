import { describe, expect, it } from 'vitest';
import { type InvalidLine, isInvalid, type JobPair, readManifestLines } from '../../lambdas/core/job-manifest.js';
import type { PairNeeds } from '../../lambdas/core/manifest.js';

/** The manifest's lines read as ingest reads them: streamed, in pieces of 5 bytes. */
async function parseJobManifest(body: string, format: 'jsonl' | 'csv', needs: PairNeeds) {
  const bytes = new TextEncoder().encode(body);
  async function* pieces() {
    for (let i = 0; i < bytes.length; i += 5) yield bytes.subarray(i, i + 5);
  }
  const pairs: JobPair[] = [];
  const invalid: InvalidLine[] = [];
  for await (const line of readManifestLines(pieces(), format, needs))
    (isInvalid(line) ? invalid : pairs).push(line as never);
  return { pairs, invalid };
}

const both = { image: true, text: true };

describe('Function: parseJobManifest', () => {
  it('accounts for every JSON Lines line exactly once: valid pairs, and invalid lines with their line number', async () => {
    // Prepare
    const body = [
      '{"id":"a","image":"uploads/imgs/a.png","text":"a red circle","batch":7}',
      '',
      '{"id":"b","image":"uploads/imgs/b.png"}',
      'not json',
      '["an","array"]',
      '{"id":"a","image":"uploads/imgs/a2.png","text":"dup"}',
      '{"id":"../escape","image":"x.png","text":"t"}',
      '{"id":"c/d e","image":"uploads/imgs/c d.png","text":""}',
    ].join('\n');
    // Act
    const { pairs, invalid } = await parseJobManifest(body, 'jsonl', both);
    // Assess
    expect(pairs).toEqual([
      { line: 1, id: 'a', image: 'uploads/imgs/a.png', text: 'a red circle', extra: { batch: 7 } },
      { line: 8, id: 'c/d e', image: 'uploads/imgs/c d.png', text: '' },
    ]);
    expect(invalid.map((l) => [l.line, l.id])).toEqual([
      [3, 'b'],
      [4, 'line-4'],
      [5, 'line-5'],
      [6, 'a#line-6'],
      [7, '../escape'],
    ]);
    expect(invalid[0].message).toBe('line 3: text: text is required: the model reads a text');
    expect(invalid[3].message).toContain("duplicate id 'a'");
    expect(invalid[4].message).toContain('id must be a relative path');
  });

  it('reads a CSV with a header, quoted fields and extra columns', async () => {
    // Prepare
    const body =
      '\uFEFFid,image,text,source\r\np1,uploads/imgs/p1.png,"a red circle, left",cam-1\r\np2,uploads/imgs/p2.png,,cam-2\r\n,uploads/imgs/p3.png,a star,cam-3\r\n';
    // Act
    const { pairs, invalid } = await parseJobManifest(body, 'csv', both);
    // Assess
    expect(pairs).toEqual([
      { line: 2, id: 'p1', image: 'uploads/imgs/p1.png', text: 'a red circle, left', extra: { source: 'cam-1' } },
      { line: 3, id: 'p2', image: 'uploads/imgs/p2.png', text: '', extra: { source: 'cam-2' } },
    ]);
    expect(invalid.map((l) => [l.line, l.id])).toEqual([[4, 'line-4']]);
  });
});

describe('Function: parseJobManifest, for a model that reads one half', () => {
  const body = [
    '{"id":"a","image":"uploads/imgs/a.png"}',
    '{"id":"b","text":"a red circle"}',
    '{"id":"c","image":"uploads/imgs/c.png","text":"a blue star","camera":"x"}',
  ].join('\n');

  it('needs only the image of an image-only model, and drops a text it will not read', async () => {
    const { pairs, invalid } = await parseJobManifest(body, 'jsonl', { image: true, text: false });
    expect(pairs).toEqual([
      { line: 1, id: 'a', image: 'uploads/imgs/a.png' },
      { line: 3, id: 'c', image: 'uploads/imgs/c.png', extra: { camera: 'x' } },
    ]);
    expect(invalid.map((l) => l.message)).toEqual(['line 2: image: image is required: the model reads an image']);
  });

  it('needs only the text of a text-only model', async () => {
    const { pairs, invalid } = await parseJobManifest(body, 'jsonl', { image: false, text: true });
    expect(pairs).toEqual([
      { line: 2, id: 'b', text: 'a red circle' },
      { line: 3, id: 'c', text: 'a blue star', extra: { camera: 'x' } },
    ]);
    expect(invalid.map((l) => l.message)).toEqual(['line 1: text: text is required: the model reads a text']);
  });
});

describe('Function: readManifestLines, at the edges of a stream', () => {
  it('numbers lines across pieces, reads a last line without a newline and skips an over-long line without holding it', async () => {
    const long = `{"id":"big","image":"i.png","text":"${'x'.repeat(1_100_000)}"}`;
    const body = `{"id":"a","image":"uploads/a.png","text":"t"}\r\n${long}\n\n{"id":"b","image":"uploads/b.png","text":"t"}`;
    const { pairs, invalid } = await parseJobManifest(body, 'jsonl', { image: true, text: true });
    expect(pairs.map((p) => [p.line, p.id])).toEqual([
      [1, 'a'],
      [4, 'b'],
    ]);
    expect(invalid).toEqual([
      { line: 2, id: 'line-2', image: null, text: null, message: 'line 2: the line is longer than 1048576 bytes' },
    ]);
  });
});

describe('Function: readManifestLines, fields a worker must be able to use', () => {
  it('refuses image keys outside the input prefixes or with . segments, ids with control characters, and over-long texts', async () => {
    const body = [
      '{"id":"ok","image":"uploads/a.png","text":"t"}',
      '{"id":"state","image":"state/jobs/x/status.json","text":"t"}',
      '{"id":"results","image":"results/pairs/a.json","text":"t"}',
      '{"id":"dots","image":"uploads/../state/x.png","text":"t"}',
      JSON.stringify({ id: 'line\nbreak', image: 'uploads/a.png', text: 't' }),
      JSON.stringify({ id: 'long', image: 'uploads/a.png', text: 'x'.repeat(64 * 1024 + 1) }),
    ].join('\n');
    const { pairs, invalid } = await parseJobManifest(body, 'jsonl', both);
    expect(pairs.map((p) => p.id)).toEqual(['ok']);
    expect(invalid.map((l) => [l.line, l.message.replace(/^line \d+: /, '')])).toEqual([
      [2, 'image: image must be a key under inbox/, jobs/, uploads/ (where workers may read)'],
      [3, 'image: image must be a key under inbox/, jobs/, uploads/ (where workers may read)'],
      [4, 'image: image key must not have . or .. segments'],
      [5, 'id: id must not hold control characters (newlines, tabs, ...)'],
      [6, 'text: text must be at most 65536 bytes (the caption limit)'],
    ]);
  });
});

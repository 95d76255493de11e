import { describe, expect, it } from 'vitest';
import { chunkPairs, parseJobManifest } from '../../lambdas/core/job-manifest.js';

const both = { image: true, text: true };

describe('Function: parseJobManifest', () => {
  it('accounts for every JSON Lines line exactly once: valid pairs, and invalid lines with their line number', () => {
    // Prepare
    const body = [
      '{"id":"a","image":"imgs/a.png","text":"a red circle","batch":7}',
      '',
      '{"id":"b","image":"imgs/b.png"}',
      'not json',
      '["an","array"]',
      '{"id":"a","image":"imgs/a2.png","text":"dup"}',
      '{"id":"../escape","image":"x.png","text":"t"}',
      '{"id":"c/d e","image":"imgs/c d.png","text":""}',
    ].join('\n');
    // Act
    const { pairs, invalid } = parseJobManifest(body, 'jsonl', both);
    // Assess
    expect(pairs).toEqual([
      { line: 1, id: 'a', image: 'imgs/a.png', text: 'a red circle', extra: { batch: 7 } },
      { line: 8, id: 'c/d e', image: 'imgs/c d.png', text: '' },
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

  it('reads a CSV with a header, quoted fields and extra columns', () => {
    // Prepare
    const body =
      '\uFEFFid,image,text,source\r\np1,imgs/p1.png,"a red circle, left",cam-1\r\np2,imgs/p2.png,,cam-2\r\n,imgs/p3.png,a star,cam-3\r\n';
    // Act
    const { pairs, invalid } = parseJobManifest(body, 'csv', both);
    // Assess
    expect(pairs).toEqual([
      { line: 2, id: 'p1', image: 'imgs/p1.png', text: 'a red circle, left', extra: { source: 'cam-1' } },
      { line: 3, id: 'p2', image: 'imgs/p2.png', text: '', extra: { source: 'cam-2' } },
    ]);
    expect(invalid.map((l) => [l.line, l.id])).toEqual([[4, 'line-4']]);
  });
});

describe('Function: chunkPairs', () => {
  it('splits into consecutive chunks of at most the size', () => {
    expect(chunkPairs([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(chunkPairs([], 2)).toEqual([]);
    expect(() => chunkPairs([1], 0)).toThrow(RangeError);
  });
});

describe('Function: parseJobManifest, for a model that reads one half', () => {
  const body = [
    '{"id":"a","image":"imgs/a.png"}',
    '{"id":"b","text":"a red circle"}',
    '{"id":"c","image":"imgs/c.png","text":"a blue star","camera":"x"}',
  ].join('\n');

  it('needs only the image of an image-only model, and drops a text it will not read', () => {
    const { pairs, invalid } = parseJobManifest(body, 'jsonl', { image: true, text: false });
    expect(pairs).toEqual([
      { line: 1, id: 'a', image: 'imgs/a.png' },
      { line: 3, id: 'c', image: 'imgs/c.png', extra: { camera: 'x' } },
    ]);
    expect(invalid.map((l) => l.message)).toEqual(['line 2: image: image is required: the model reads an image']);
  });

  it('needs only the text of a text-only model', () => {
    const { pairs, invalid } = parseJobManifest(body, 'jsonl', { image: false, text: true });
    expect(pairs).toEqual([
      { line: 2, id: 'b', text: 'a red circle' },
      { line: 3, id: 'c', text: 'a blue star', extra: { camera: 'x' } },
    ]);
    expect(invalid.map((l) => l.message)).toEqual(['line 1: text: text is required: the model reads a text']);
  });
});

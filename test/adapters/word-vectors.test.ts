/** The word-vector file adapter: GloVe's and fastText's text formats, and the errors a bad file gets. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadWordVectors, VectorFileError } from '../../lambdas/adapters/word-vectors.js';

describe('Adapter: word-vector files', () => {
  let dir: string;
  const file = async (name: string, text: string) => {
    const full = path.join(dir, name);
    await writeFile(full, text);
    return full;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-vectors-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads GloVe’s format into one array, a row per word in file order', async () => {
    // Act
    const vectors = await loadWordVectors(await file('glove.txt', 'the 0.5 -1 2\ncat 1e-3 0 -0.25\n\n'));
    // Assess
    expect([vectors.dim, vectors.words]).toEqual([3, 2]);
    expect(Array.from(vectors.data)).toEqual([0.5, -1, 2, 0.001, 0, -0.25].map(Math.fround));
    expect([vectors.indexOf('cat'), vectors.indexOf('dog')]).toEqual([1, -1]);
  });

  it('skips fastText’s header line, keeps a word’s first vector, and takes CRLF line ends', async () => {
    const vectors = await loadWordVectors(await file('ft.vec', '3 2\r\nred 1 2\r\nred 9 9\r\nblue 3 4\r\n'));
    expect([vectors.dim, vectors.words, vectors.indexOf('red'), vectors.indexOf('blue')]).toEqual([2, 2, 0, 1]);
    expect(Array.from(vectors.data)).toEqual([1, 2, 3, 4]);
    expect(Array.from(vectors.data.subarray(0, 2))).toEqual([1, 2]);
  });

  it('names the line of a row of the wrong width or a value that is not a number', async () => {
    await expect(loadWordVectors(await file('short.txt', 'a 1 2\nb 3\n'))).rejects.toThrow(
      new VectorFileError(`${path.join(dir, 'short.txt')}:2: expected a word and 2 numbers, found 1`),
    );
    await expect(loadWordVectors(await file('nan.txt', 'a 1 x\n'))).rejects.toThrow(/nan\.txt:1: 'x' is not a number/);
    await expect(loadWordVectors(await file('empty.txt', '\n'))).rejects.toThrow(/no word vectors/);
  });
});

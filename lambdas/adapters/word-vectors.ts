/**
 * Word vectors from a file in GloVe's text format: `word v1 … vD` a line, space-separated (the
 * format fastText's `.vec` files use too, after a first line `count D`, which is skipped). The
 * file is streamed line by line into one Float32Array of rows of D numbers and a Map from word
 * to row: no array per word, no copy of the file. The array is sized up front from the file's
 * size over its first line's (or from fastText's header), so it is not copied as it grows.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { WordVectors } from '../core/text.js';

export class VectorFileError extends Error {
  override name = 'VectorFileError';
}

class LoadedVectors implements WordVectors {
  readonly kind = 'vectors';
  constructor(
    private readonly rows: Map<string, number>,
    readonly data: Float32Array,
    readonly dim: number,
  ) {}
  get words(): number {
    return this.rows.size;
  }
  indexOf(word: string): number {
    return this.rows.get(word) ?? -1;
  }
}

/** Reads a vector file; a line that is not `word` and D numbers is an error naming its line. */
export async function loadWordVectors(file: string): Promise<WordVectors> {
  const rows = new Map<string, number>();
  let dim = 0;
  let data = new Float32Array(0);
  let lineNo = 0;
  const { size: bytes } = await stat(file);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    lineNo++;
    if (!line) continue;
    const parts = line.trimEnd().split(' ');
    // fastText's header: two integers, the word count and the width.
    if (lineNo === 1 && parts.length === 2 && /^\d+$/.test(parts[0]) && /^\d+$/.test(parts[1])) {
      dim = Number(parts[1]);
      data = new Float32Array(Number(parts[0]) * dim);
      continue;
    }
    if (!dim) {
      dim = parts.length - 1;
      // Lines of one file are about as long as each other: room for 10 % more than the estimate.
      data = new Float32Array(Math.ceil((1.1 * bytes) / (line.length + 1)) * Math.max(1, dim));
    }
    if (parts.length - 1 !== dim || dim < 1) {
      throw new VectorFileError(`${file}:${lineNo}: expected a word and ${dim} numbers, found ${parts.length - 1}`);
    }
    const row = rows.size;
    if ((row + 1) * dim > data.length) {
      const grown = new Float32Array(Math.max(1024 * dim, Math.ceil(data.length * 1.5)));
      grown.set(data);
      data = grown;
    }
    const base = row * dim;
    for (let k = 0; k < dim; k++) {
      const value = Number(parts[k + 1]);
      if (!Number.isFinite(value)) {
        throw new VectorFileError(`${file}:${lineNo}: '${parts[k + 1]}' is not a number`);
      }
      data[base + k] = value;
    }
    // A word listed twice keeps its first vector, as GloVe's own tools do.
    if (!rows.has(parts[0])) rows.set(parts[0], row);
  }
  if (!rows.size) throw new VectorFileError(`${file}: no word vectors in the file`);
  // Trimmed by a copy only when much is unused; a view otherwise.
  const used = rows.size * dim;
  return new LoadedVectors(rows, data.length > used * 1.2 ? data.slice(0, used) : data.subarray(0, used), dim);
}

/**
 * COCO run-length encoding of binary masks, as pycocotools reads and writes it
 * (`{"size": [h, w], "counts": "…"}`), so that a mask can sit inline in a record instead of
 * costing a PNG object (and a PUT) of its own.
 *
 * The runs go down the columns (column-major, Fortran order: pixel (x, y) is at x * h + y)
 * and alternate between out and in, starting with out: a mask whose first pixel is in starts
 * with a run of 0. `counts` is the compressed string form of cocoapi's maskApi.c
 * (`rleToString` / `rleFrString`): each run (from the fourth on, its difference from the run
 * two before it) is written in 5-bit groups, least significant first, each group a character
 * `48 + group`, with 0x20 set while more groups follow and 0x10 of the last group the sign.
 */
import * as z from 'zod';
import type { BinaryMask } from './kinds/kind.js';

export const CocoRleSchema = z
  .strictObject({
    size: z.tuple([z.number().int().min(0), z.number().int().min(0)]),
    counts: z.string(),
  })
  .describe('COCO run-length encoding (pycocotools): size [height, width], column-major runs starting with 0s');

export type CocoRle = z.infer<typeof CocoRleSchema>;

/**
 * Where a row-major plane changes down its columns, in column-major order: each position
 * k = x * h + y (times 256, plus the byte there, with `withValue`) whose pixel differs from the
 * one before it in that order (the pixel above, or the last of the previous column); the first
 * pixel counts when it differs from `before`. `same(a, b)` says whether two bytes are alike.
 *
 * Rows are compared with the row above sequentially, four bytes at a time where rows start on
 * a word, instead of walking each column down (a cache line a pixel on a wide image): masks and
 * class maps are long runs, so only their edges are visited, then sorted into column order.
 */
function columnChanges(
  map: { width: number; height: number; data: Uint8Array },
  same: (a: number, b: number) => boolean,
  before: number,
  withValue: boolean,
): Float64Array {
  const { width, height, data } = map;
  if (data.length === 0) return new Float64Array(0);
  let changes = new Float64Array(64);
  let n = 0;
  const add = (x: number, y: number, value: number) => {
    if (n === changes.length) {
      const grown = new Float64Array(n * 2);
      grown.set(changes);
      changes = grown;
    }
    const k = x * height + y;
    changes[n++] = withValue ? k * 256 + value : k;
  };
  // The top of each column against the bottom of the column before it.
  for (let x = 0; x < width; x++) {
    const previous = x === 0 ? before : data[(height - 1) * width + x - 1];
    if (!same(previous, data[x])) add(x, 0, data[x]);
  }
  const words =
    width % 4 === 0 && data.byteOffset % 4 === 0
      ? new Uint32Array(data.buffer, data.byteOffset, data.length >> 2)
      : null;
  for (let y = 1; y < height; y++) {
    const row = y * width;
    if (words) {
      const quarter = width >> 2;
      for (let w = row >> 2, end = w + quarter; w < end; w++) {
        if (words[w] === words[w - quarter]) continue;
        for (let i = w * 4; i < w * 4 + 4; i++) if (!same(data[i - width], data[i])) add(i - row, y, data[i]);
      }
    } else {
      for (let i = row; i < row + width; i++) {
        if (data[i] !== data[i - width] && !same(data[i - width], data[i])) add(i - row, y, data[i]);
      }
    }
  }
  return changes.subarray(0, n).sort();
}

const sameSide = (a: number, b: number) => a > 127 === b > 127;
const sameByte = (a: number, b: number) => a === b;

/** The runs of a mask (a pixel is in when its byte is over 127), column-major, starting with a run of out pixels. */
export function maskRuns(mask: BinaryMask): number[] {
  const changes = columnChanges(mask, sameSide, 0, false);
  const runs: number[] = [];
  let at = 0;
  for (let i = 0; i < changes.length; i++) {
    runs.push(changes[i] - at);
    at = changes[i];
  }
  runs.push(mask.data.length - at);
  return runs;
}

/**
 * The COCO RLE of each class present in a class map (a class index a pixel), from where the
 * map changes down the columns: there the old class's run of in ends and the new one's run of
 * out does. The same as encodeRle of each class's own mask, without a pass per class.
 */
export function encodeClassRles(map: { width: number; height: number; data: Uint8Array }): Map<number, CocoRle> {
  const { width, height, data } = map;
  const runs: (number[] | undefined)[] = new Array(256);
  const runStart = new Float64Array(256); // where each class's current run began
  let previous = -1;
  // A value no byte has before the first pixel: the first pixel always starts its class's run.
  const changes = columnChanges(map, sameByte, -1, true);
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i] % 256;
    const k = (changes[i] - c) / 256;
    if (previous >= 0) {
      runs[previous]!.push(k - runStart[previous]);
      runStart[previous] = k;
    }
    runs[c] ??= [];
    runs[c].push(k - runStart[c]);
    runStart[c] = k;
    previous = c;
  }
  const out = new Map<number, CocoRle>();
  for (let c = 0; c < 256; c++) {
    const classRuns = runs[c];
    if (!classRuns) continue;
    classRuns.push(data.length - runStart[c]);
    out.set(c, { size: [height, width], counts: runsToCounts(classRuns) });
  }
  return out;
}

/** maskApi.c's rleToString. Plain arithmetic (no 32-bit shifts) keeps runs of any length exact. */
export function runsToCounts(runs: readonly number[]): string {
  let out = '';
  for (let i = 0; i < runs.length; i++) {
    let x = i > 2 ? runs[i] - runs[i - 2] : runs[i];
    for (let more = true; more; ) {
      let group = ((x % 32) + 32) % 32; // x & 0x1f, for negative x too
      x = Math.floor(x / 32); // x >>= 5 (arithmetic)
      more = group & 0x10 ? x !== -1 : x !== 0;
      if (more) group |= 0x20;
      out += String.fromCharCode(group + 48);
    }
  }
  return out;
}

/** maskApi.c's rleFrString; refuses characters outside the alphabet and a string that ends mid-number. */
export function countsToRuns(counts: string): number[] {
  const runs: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0;
    let scale = 1;
    for (let more = true; more; ) {
      if (p >= counts.length) throw new RangeError('COCO RLE counts end in the middle of a run');
      const c = counts.charCodeAt(p++) - 48;
      if (c < 0 || c > 63) throw new RangeError(`COCO RLE counts hold a character outside '0'..'o' at ${p - 1}`);
      x += (c & 0x1f) * scale;
      scale *= 32;
      more = (c & 0x20) !== 0;
      if (!more && c & 0x10) x -= scale; // the last group's 0x10 is the sign: extend it
    }
    if (runs.length > 2) x += runs[runs.length - 2];
    runs.push(x);
  }
  return runs;
}

export function encodeRle(mask: BinaryMask): CocoRle {
  return { size: [mask.height, mask.width], counts: runsToCounts(maskRuns(mask)) };
}

/** The mask (0 or 255 a pixel, row-major as every mask here) of a COCO RLE; refuses runs that do not fill it exactly. */
export function decodeRle(rle: CocoRle): BinaryMask {
  const [height, width] = rle.size;
  const runs = countsToRuns(rle.counts);
  const total = runs.reduce((a, b) => a + b, 0);
  if (runs.some((r) => r < 0) || total !== width * height) {
    throw new RangeError(`COCO RLE runs cover ${total} pixels, not ${height} × ${width}`);
  }
  const data = new Uint8Array(width * height);
  let position = 0; // column-major
  for (let r = 0; r < runs.length; r++) {
    const end = position + runs[r];
    if (r % 2 === 1) {
      for (let k = position; k < end; k++) data[(k % height) * width + Math.floor(k / height)] = 255;
    }
    position = end;
  }
  return { width, height, data };
}

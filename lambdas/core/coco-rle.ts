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

/** The runs of a mask (a pixel is in when its byte is over 127), column-major, starting with a run of out pixels. */
export function maskRuns(mask: BinaryMask): number[] {
  const { width, data } = mask;
  const runs: number[] = [];
  let value = false;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x; i < data.length; i += width) {
      const inside = data[i] > 127;
      if (inside !== value) {
        runs.push(run);
        run = 0;
        value = inside;
      }
      run++;
    }
  }
  runs.push(run);
  return runs;
}

/**
 * The COCO RLE of each class present in a class map (a class index a pixel), in one pass down
 * the columns: where the class changes, the old class's run of in ends and the new one's run of
 * out does. The same as encodeRle of each class's own mask, without a pass per class.
 */
export function encodeClassRles(map: { width: number; height: number; data: Uint8Array }): Map<number, CocoRle> {
  const { width, height, data } = map;
  const runs = new Map<number, number[]>();
  const runStart = new Map<number, number>(); // where each class's current run began
  let previous = -1;
  let k = 0; // the column-major position
  for (let x = 0; x < width; x++) {
    for (let i = x; i < data.length; i += width, k++) {
      const c = data[i];
      if (c === previous) continue;
      if (previous >= 0) {
        runs.get(previous)!.push(k - runStart.get(previous)!);
        runStart.set(previous, k);
      }
      if (!runs.has(c)) runs.set(c, []);
      runs.get(c)!.push(k - (runStart.get(c) ?? 0));
      runStart.set(c, k);
      previous = c;
    }
  }
  const out = new Map<number, CocoRle>();
  for (const [c, classRuns] of [...runs].sort((a, b) => a[0] - b[0])) {
    classRuns.push(data.length - runStart.get(c)!);
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

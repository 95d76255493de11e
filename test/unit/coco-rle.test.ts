/**
 * The COCO RLE codec against pycocotools' published algorithm, re-implemented here on its own
 * (cocoapi's maskApi.c, rleFrString and rleDecode): the production encoder's strings are read
 * back by this decoder pixel by pixel, and strings worked out by hand from the algorithm are
 * read by the production decoder.
 */
import { describe, expect, it } from 'vitest';
import { countsToRuns, decodeRle, encodeClassRles, encodeRle, runsToCounts } from '../../lambdas/core/coco-rle.js';
import type { BinaryMask } from '../../lambdas/core/kinds/kind.js';

/**
 * pycocotools' reading of `{size: [h, w], counts}`, written from maskApi.c: characters are
 * 48 + a 5-bit group, least significant group first, 0x20 meaning another group follows and
 * the last group's 0x10 its sign; from the fourth number on, the number is a difference from
 * the run two before. Runs alternate 0, 1, 0, … down the columns. Returns a[y][x] in 0/1.
 */
function referenceDecode(h: number, w: number, counts: string): number[][] {
  const cnts: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0n;
    let k = 0n;
    let more = true;
    while (more) {
      const c = BigInt(counts.charCodeAt(p) - 48);
      x |= (c & 0x1fn) << (5n * k);
      more = (c & 0x20n) !== 0n;
      p++;
      k++;
      if (!more && (c & 0x10n) !== 0n) x |= -1n << (5n * k);
    }
    if (cnts.length > 2) x += BigInt(cnts[cnts.length - 2]);
    cnts.push(Number(x));
  }
  const flat: number[] = [];
  let v = 0;
  for (const run of cnts) {
    for (let j = 0; j < run; j++) flat.push(v);
    v = 1 - v;
  }
  if (flat.length !== h * w) throw new Error(`runs cover ${flat.length} pixels, not ${h * w}`);
  // Fortran order: flat index x * h + y.
  return Array.from({ length: h }, (_, y) => Array.from({ length: w }, (_, x) => flat[x * h + y]));
}

/** A mask from rows of 0/1 (1 → 255, as the pipeline's masks). */
const maskOf = (rows: number[][]): BinaryMask => {
  const height = rows.length;
  const width = rows[0]?.length ?? 0;
  return { width, height, data: Uint8Array.from(rows.flat(), (v) => (v ? 255 : 0)) };
};
const rowsOf = (mask: BinaryMask): number[][] =>
  Array.from({ length: mask.height }, (_, y) =>
    Array.from(mask.data.subarray(y * mask.width, (y + 1) * mask.width), (v) => (v > 127 ? 1 : 0)),
  );

/** A seeded generator, so a failure can be repeated. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomMask(width: number, height: number, density: number, seed: number): BinaryMask {
  const random = lcg(seed);
  return { width, height, data: Uint8Array.from({ length: width * height }, () => (random() < density ? 255 : 0)) };
}

/** A disc, as the reference model's masks look: long runs down the columns. */
function disc(width: number, height: number, cx: number, cy: number, r: number): BinaryMask {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) data[y * width + x] = 255;
  return { width, height, data };
}

const single = (width: number, height: number, x: number, y: number): BinaryMask => {
  const data = new Uint8Array(width * height);
  data[y * width + x] = 255;
  return { width, height, data };
};

describe('COCO RLE: the production encoder, read by an independent pycocotools decoder', () => {
  it.each([
    ['random, half in, 37 × 23', randomMask(37, 23, 0.5, 1)],
    ['random, sparse, 96 × 96', randomMask(96, 96, 0.03, 2)],
    ['random, dense, 1 × 97', randomMask(1, 97, 0.9, 3)],
    ['random, 64 × 1', randomMask(64, 1, 0.5, 4)],
    ['empty, 96 × 96', maskOf(Array.from({ length: 96 }, () => new Array(96).fill(0)))],
    ['full, 13 × 7 (starts with a run of 0)', maskOf(Array.from({ length: 7 }, () => new Array(13).fill(1)))],
    ['one pixel, first', single(5, 3, 0, 0)],
    ['one pixel, last', single(5, 3, 4, 2)],
    ['one pixel, middle of an odd size', single(101, 99, 50, 49)],
    ['a disc, 96 × 96', disc(96, 96, 40, 51, 17)],
    ['runs over 2^15: a 300 × 300 disc with 60,000-pixel margins', disc(300, 300, 150, 150, 20)],
    ['runs over 2^16: 400 × 300 empty but for one pixel near the end', single(400, 300, 350, 299)],
  ])('%s', (_name, mask) => {
    // Act
    const rle = encodeRle(mask);
    // Assess: pixel for pixel, by the reference decoder; and back through the production decoder.
    expect(rle.size).toEqual([mask.height, mask.width]);
    expect(referenceDecode(mask.height, mask.width, rle.counts)).toEqual(rowsOf(mask));
    expect(decodeRle(rle)).toEqual({
      width: mask.width,
      height: mask.height,
      data: Uint8Array.from(mask.data, (v) => (v > 127 ? 255 : 0)),
    });
  });

  it.each([
    ['rows on words (64 wide)', 64, 40, 0],
    ['rows off words (a subarray at byte 1)', 64, 40, 1],
    ['odd width', 45, 31, 0],
  ])('reads any byte over 127 as in, the same on every path: %s', (_name, width, height, offset) => {
    // Prepare: bytes of every value, in blocks (so that rows repeat and words match) and noise.
    const random = lcg(width + offset);
    const data = new Uint8Array(width * height + offset).subarray(offset);
    for (let i = 0; i < data.length; i++) data[i] = random() < 0.7 ? ((i >> 7) % 2 ? 200 : 3) : random() * 256;
    const mask = { width, height, data };
    // Act
    const rle = encodeRle(mask);
    // Assess
    expect(referenceDecode(height, width, rle.counts)).toEqual(rowsOf(mask));
  });

  it('writes runs longer than 2^15 and negative differences in as many groups as they need', () => {
    // Prepare: a first run of 70,000, then runs whose differences from two before are negative.
    const runs = [70_000, 5, 3, 2, 1 << 22, 7];
    // Act
    const counts = runsToCounts(runs);
    // Assess
    expect(countsToRuns(counts)).toEqual(runs);
    expect(
      referenceDecode(
        1,
        runs.reduce((a, b) => a + b, 0),
        counts,
      )
        .flat()
        .filter(Boolean).length,
    ).toBe(5 + 2 + 7);
  });
});

describe('COCO RLE of a class map: one mask per class present, in one pass', () => {
  it.each([
    ['random classes 0-4, 31 × 17', 31, 17, (r: () => number) => Math.floor(r() * 5)],
    [
      'bands of 3 classes, one absent, 40 × 9 (starts inside class 0)',
      40,
      9,
      (_r: () => number, i = 0) => (i % 40 < 20 ? 0 : 2),
    ],
    ['one class everywhere, 7 × 5', 7, 5, () => 3],
    [
      'blocks of classes 0-6 on word-aligned rows, 64 × 48',
      64,
      48,
      (r: () => number, i = 0) => (r() < 0.05 ? Math.floor(r() * 7) : ((i >> 9) + ((i % 64) >> 4)) % 7),
    ],
    ['empty, 0 × 0', 0, 0, () => 0],
  ])('%s: each class reads back, by the reference decoder, as exactly its pixels', (_name, width, height, classAt) => {
    // Prepare
    const random = lcg(width * height);
    const data = Uint8Array.from({ length: width * height }, (_, i) => classAt(random, i));
    // Act
    const rles = encodeClassRles({ width, height, data });
    // Assess
    expect([...rles.keys()]).toEqual([...new Set(data)].sort((a, b) => a - b));
    for (const [c, rle] of rles) {
      const expected = Array.from({ length: height }, (_, y) =>
        Array.from({ length: width }, (_, x) => Number(data[y * width + x] === c)),
      );
      expect(referenceDecode(height, width, rle.counts), `class ${c}`).toEqual(expected);
    }
  });
});

describe('COCO RLE: strings worked out by hand from the algorithm, read by the production decoder', () => {
  it('reads "12113N", a 4 × 3 mask with differences from the fourth run on', () => {
    // Prepare. The mask (h 4, w 3):     Down the columns (Fortran order):
    //   0 1 0                            column 0: 0 1 1 0
    //   1 1 0                            column 1: 1 1 1 0
    //   1 1 0                            column 2: 0 0 0 1
    //   0 0 1
    // Runs, starting with 0s: 1, 2, 1, 3, 4, 1 (sum 12). Written: the first three as they are
    // (1, 2, 1), then each less the run two before: 3-2 = 1, 4-1 = 3, 1-3 = -2. Each fits one
    // 5-bit group: 1 → '1', 2 → '2', 1 → '1', 1 → '1', 3 → '3'; -2 in two's complement has low
    // bits 11110 = 30, its 0x10 says negative and nothing follows: 48 + 30 = 'N'.
    const rle = { size: [4, 3] as [number, number], counts: '12113N' };
    // Act
    const mask = decodeRle(rle);
    // Assess
    expect(rowsOf(mask)).toEqual([
      [0, 1, 0],
      [1, 1, 0],
      [1, 1, 0],
      [0, 0, 1],
    ]);
    expect(encodeRle(mask)).toEqual(rle);
  });

  it('reads "d0", an empty 20 × 1 mask: one run of 20, which needs two groups', () => {
    // 20 = 0b10100: its low group 10100 has 0x10 set, which alone would read as negative, so
    // a second group follows: 20 | 0x20 = 52 → 48 + 52 = 'd', then 0 → '0'.
    const rle = { size: [20, 1] as [number, number], counts: 'd0' };
    expect(rowsOf(decodeRle(rle)).flat()).toEqual(new Array(20).fill(0));
    expect(encodeRle(maskOf(Array.from({ length: 20 }, () => [0])))).toEqual(rle);
  });

  it('refuses counts that do not fill the size, and characters outside the alphabet', () => {
    expect(() => decodeRle({ size: [4, 3], counts: '12113' })).toThrow(/cover 11 pixels, not 4 × 3/);
    expect(() => decodeRle({ size: [4, 3], counts: '1211 N' })).toThrow(/outside/);
    expect(() => decodeRle({ size: [20, 1], counts: 'd' })).toThrow(/middle of a run/);
  });
});

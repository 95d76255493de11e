import { describe, expect, it } from 'vitest';
import type { PairError } from '../../lambdas/core/errors.js';
import { ImageInputSchema } from '../../lambdas/core/manifest.js';
import { cleanText, padTokenIds, writeImageTensor } from '../../lambdas/core/preprocess.js';

const spec = (over: object = {}) =>
  ImageInputSchema.parse({
    tensor: 'x',
    width: 2,
    height: 1,
    resize: 'stretch',
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.25, 0.5],
    ...over,
  });

describe('Function: writeImageTensor', () => {
  const rgb = Uint8Array.from([255, 0, 51, 0, 255, 102]); // two pixels, HWC

  it('writes NCHW planes normalised by mean and std', () => {
    const out = new Float32Array(6);
    writeImageTensor(rgb, spec(), out);
    expect(Array.from(out)).toEqual([1, -1, -2, 2, expect.closeTo(-0.6, 6), expect.closeTo(-0.2, 6)]);
  });

  it('writes NHWC in BGR order when the manifest says so', () => {
    const out = new Float32Array(6);
    writeImageTensor(rgb, spec({ layout: 'nhwc', channelOrder: 'bgr' }), out);
    expect(Array.from(out)).toEqual([expect.closeTo(-0.6, 6), -2, 1, expect.closeTo(-0.2, 6), 2, -1]);
  });

  it('refuses pixels of the wrong size', () => {
    expect(() => writeImageTensor(new Uint8Array(5), spec(), new Float32Array(6))).toThrow(RangeError);
  });
});

describe('Function: cleanText', () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      return (error as PairError).code;
    }
    return 'none';
  };

  it.each([
    { case: 'plain text', input: 'a red circle', expected: 'a red circle' },
    { case: 'a byte-order mark and outer whitespace', input: '\uFEFF  a red circle \n', expected: 'a red circle' },
    { case: 'NUL and other control characters', input: 'a red\u0000circle\u0007', expected: 'a red circle' },
    { case: 'non-ASCII letters', input: 'un cercle rouge é', expected: 'un cercle rouge é' },
  ])('keeps $case as defined', ({ input, expected }) => {
    expect(cleanText(new TextEncoder().encode(input))).toBe(expected);
  });

  it.each([
    { case: 'empty text', input: new Uint8Array(0), expected: 'TEXT_EMPTY' },
    { case: 'only whitespace and NULs', input: Uint8Array.from([32, 0, 10, 9]), expected: 'TEXT_EMPTY' },
    { case: 'invalid UTF-8', input: Uint8Array.from([0x61, 0xff, 0xfe, 0x62]), expected: 'TEXT_INVALID_UTF8' },
    { case: 'an overlong encoding', input: Uint8Array.from([0xc0, 0xaf]), expected: 'TEXT_INVALID_UTF8' },
  ])('rejects $case with its code', ({ input, expected }) => {
    expect(code(() => cleanText(input))).toBe(expected);
  });

  it('rejects text over the byte limit', () => {
    expect(code(() => cleanText(new Uint8Array(11).fill(97), 10))).toBe('TEXT_TOO_MANY_BYTES');
  });
});

describe('Function: padTokenIds', () => {
  it('pads on the right with the pad id and a zero mask', () => {
    const { ids, mask, truncated } = padTokenIds([5, 6], 4, 0);
    expect(Array.from(ids)).toEqual([5n, 6n, 0n, 0n]);
    expect(Array.from(mask)).toEqual([1n, 1n, 0n, 0n]);
    expect(truncated).toBe(false);
  });

  it('truncates to the maximum length instead of rejecting', () => {
    const { ids, mask, truncated } = padTokenIds([1, 2, 3, 4, 5], 3, 0);
    expect(Array.from(ids)).toEqual([1n, 2n, 3n]);
    expect(Array.from(mask)).toEqual([1n, 1n, 1n]);
    expect(truncated).toBe(true);
  });
});

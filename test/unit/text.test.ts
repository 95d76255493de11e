/**
 * Text inputs: words as a vector input reads them, unknown words, truncation and padding, the
 * lengths tensor, and both layouts of ids and vectors, on hand-written vectors and tokens.
 */
import { describe, expect, it } from 'vitest';
import { TextInputSchema, type TokenTextInput, type VectorTextInput } from '../../lambdas/core/manifest.js';
import { encodeText, type TokenIdsEncoder, textFeeds, type WordVectors, wordsOf } from '../../lambdas/core/text.js';

/** Three 2-d words; `<unk>` for the named-vector case. */
const vectors: WordVectors = {
  kind: 'vectors',
  dim: 2,
  words: 3,
  data: Float32Array.from([1, 2, 3, 4, 9, 9]),
  indexOf: (w) => ['red', 'circle', '<unk>'].indexOf(w),
};
const tokens: TokenIdsEncoder = { kind: 'ids', padId: 0, encode: (t) => t.split(' ').map((w) => w.length) };
const vectorInput = (over: object = {}) =>
  TextInputSchema.parse({ vectors: 'v.txt', tensor: 'text', maxLength: 3, ...over }) as VectorTextInput;
const idInput = (over: object = {}) =>
  TextInputSchema.parse({ idsTensor: 'ids', maxLength: 3, ...over }) as TokenTextInput;

describe('Text: word vectors', () => {
  it('lower-cases and splits on whitespace, punctuation and symbols', () => {
    expect(wordsOf('A Red, ROUND ball… (big)!  x+y', true)).toEqual(['a', 'red', 'round', 'ball', 'big', 'x', 'y']);
    expect(wordsOf('Red Circle', false)).toEqual(['Red', 'Circle']);
  });

  it('gives unknown words zero vectors, pads with zeros and counts the words kept', () => {
    const encoded = encodeText(vectorInput(), vectors, 'Red blue');
    expect(encoded).toEqual({ kind: 'vectors', vectors: Float32Array.from([1, 2, 0, 0, 0, 0]), length: 2 });
  });

  it('gives unknown words a named vector when the input says so, and truncates past maxLength', () => {
    const encoded = encodeText(vectorInput({ oov: { word: '<unk>' }, maxLength: 2 }), vectors, 'blue circle red');
    expect(encoded).toEqual({ kind: 'vectors', vectors: Float32Array.from([9, 9, 3, 4]), length: 2 });
  });

  it('refuses a text with no word in it', () => {
    expect(() => encodeText(vectorInput(), vectors, '... !!')).toThrow(/no words/);
  });

  it('lays vectors out batch-first [N, L, D] or sequence-first [L, N, D], with int64 lengths', () => {
    // Prepare: two texts of 1 and 2 words.
    const a = encodeText(vectorInput(), vectors, 'red');
    const b = encodeText(vectorInput(), vectors, 'circle red');
    // Act
    const batchFirst = textFeeds(vectorInput({ lengthsTensor: 'len' }), [a, b], 2);
    const seqFirst = textFeeds(vectorInput({ layout: 'seq-first' }), [a, b], 2);
    // Assess
    expect(batchFirst.text.dims).toEqual([2, 3, 2]);
    expect(Array.from(batchFirst.text.data as Float32Array)).toEqual([1, 2, 0, 0, 0, 0, 3, 4, 1, 2, 0, 0]);
    expect(batchFirst.len).toEqual({ type: 'int64', data: BigInt64Array.from([1n, 2n]), dims: [2] });
    expect(seqFirst.text.dims).toEqual([3, 2, 2]);
    // Position 0 of both, then position 1 of both, then position 2.
    expect(Array.from(seqFirst.text.data as Float32Array)).toEqual([1, 2, 3, 4, 0, 0, 1, 2, 0, 0, 0, 0]);
    expect(seqFirst.len).toBeUndefined();
  });
});

describe('Text: token ids', () => {
  it('lays ids and the mask out sequence-first [L, N] when the input says so', () => {
    // Prepare: "ab c" → ids [2, 1]; "abc" → [3].
    const spec = idInput({ layout: 'seq-first', attentionMaskTensor: 'mask', lengthsTensor: 'len' });
    const encoded = ['ab c', 'abc'].map((t) => encodeText(spec, tokens, t));
    // Act
    const feeds = textFeeds(spec, encoded);
    // Assess
    expect(feeds.ids.dims).toEqual([3, 2]);
    expect(Array.from(feeds.ids.data as BigInt64Array)).toEqual([2n, 3n, 1n, 0n, 0n, 0n]);
    expect(Array.from(feeds.mask.data as BigInt64Array)).toEqual([1n, 1n, 1n, 0n, 0n, 0n]);
    expect(Array.from(feeds.len.data as BigInt64Array)).toEqual([2n, 1n]);
  });

  it('keeps the batch-first default [N, L]', () => {
    const spec = idInput();
    const feeds = textFeeds(spec, [encodeText(spec, tokens, 'ab c')]);
    expect(feeds.ids).toEqual({ type: 'int64', data: BigInt64Array.from([2n, 1n, 0n]), dims: [1, 3] });
  });
});

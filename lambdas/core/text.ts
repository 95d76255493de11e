/**
 * Text inputs, from clean text to the model's tensors: token ids (a tokenizer) or word vectors
 * (a vector file), truncated and padded to maxLength, laid out batch-first [N, L, …] or
 * sequence-first [L, N, …], with an attention mask and a lengths tensor where the model has
 * them. Tokenising and reading the vector file are the adapters'; what is done with them is here.
 */
import { PairError } from './errors.js';
import type { TextInput, TokenTextInput, VectorTextInput } from './manifest.js';
import { padTokenIds } from './preprocess.js';
import { float32, int64, type TensorData } from './tensor.js';

/** Text to token ids, without padding or truncation (the tokenizer adapter). */
export interface TokenIdsEncoder {
  readonly kind: 'ids';
  encode(text: string): number[];
  readonly padId: number;
}

/** Word vectors loaded once: each word's row of `dim` numbers in one array (the vector-file adapter). */
export interface WordVectors {
  readonly kind: 'vectors';
  readonly dim: number;
  readonly words: number;
  /** The word's row, or -1 when the file has no such word. */
  indexOf(word: string): number;
  /** All rows, `dim` numbers each. */
  readonly data: Float32Array;
}

/** What a text input needs, loaded: a tokenizer or word vectors (not the Web API TextEncoder). */
export type TextInputEncoder = TokenIdsEncoder | WordVectors;

/** One pair's text, encoded for its input: ids and mask, or vectors; `length` counts what was kept. */
export type EncodedText =
  | { readonly kind: 'ids'; readonly ids: BigInt64Array; readonly mask: BigInt64Array; readonly length: number }
  | { readonly kind: 'vectors'; readonly vectors: Float32Array; readonly length: number };

// Whitespace, punctuation and symbols separate words: "a red, round ball." → a, red, round, ball.
const WORD_BREAKS = /[\s\p{P}\p{S}]+/u;

/** The words of a text as a vector input reads them: lower-cased unless told otherwise, split on breaks. */
export function wordsOf(text: string, lowercase: boolean): string[] {
  return (lowercase ? text.toLowerCase() : text).split(WORD_BREAKS).filter(Boolean);
}

const isVectors = (spec: TextInput): spec is VectorTextInput => 'vectors' in spec;

/** The vector a word not in the file takes: a zero row (-1) or the named word's row. */
export function oovRow(spec: VectorTextInput, vectors: WordVectors): number {
  if (spec.oov === 'zero') return -1;
  const row = vectors.indexOf(spec.oov.word);
  if (row < 0) throw new RangeError(`inputs.text.oov: '${spec.oov.word}' is not a word of ${spec.vectors}`);
  return row;
}

/** Encodes one clean text for its input; a text with no word at all is TEXT_EMPTY for a vector input. */
export function encodeText(spec: TextInput, encoder: TextInputEncoder, text: string): EncodedText {
  if (isVectors(spec)) {
    if (encoder.kind !== 'vectors') throw new TypeError('a word-vector input needs word vectors');
    const words = wordsOf(text, spec.lowercase);
    if (!words.length) throw new PairError('TEXT_EMPTY', 'the text has no words (only punctuation or symbols)');
    const { dim, data } = encoder;
    const unknown = oovRow(spec, encoder);
    const vectors = new Float32Array(spec.maxLength * dim);
    const length = Math.min(words.length, spec.maxLength);
    for (let i = 0; i < length; i++) {
      const row = encoder.indexOf(words[i]);
      const from = row >= 0 ? row : unknown;
      if (from >= 0) vectors.set(data.subarray(from * dim, (from + 1) * dim), i * dim);
    }
    return { kind: 'vectors', vectors, length };
  }
  if (encoder.kind !== 'ids') throw new TypeError('a token-id input needs a tokenizer');
  const ids = encoder.encode(text);
  const tokens = padTokenIds(ids, spec.maxLength, encoder.padId);
  return { kind: 'ids', ids: tokens.ids, mask: tokens.mask, length: Math.min(ids.length, spec.maxLength) };
}

/**
 * Rows of `width` values per position, one row set per pair, into [N, L, width] (batch-first)
 * or [L, N, width] (sequence-first).
 */
function lay<T extends { set(from: T, offset: number): void; subarray(a: number, b: number): T }>(
  rows: readonly T[],
  maxLength: number,
  width: number,
  layout: TokenTextInput['layout'],
  out: T,
): T {
  const n = rows.length;
  rows.forEach((row, b) => {
    if (layout === 'batch-first') {
      out.set(row, b * maxLength * width);
    } else {
      for (let t = 0; t < maxLength; t++) out.set(row.subarray(t * width, (t + 1) * width), (t * n + b) * width);
    }
  });
  return out;
}

/** The text feeds of a batch: ids (and mask) or vectors, and lengths, in the input's layout. */
export function textFeeds(spec: TextInput, encoded: readonly EncodedText[], dim = 0): Record<string, TensorData> {
  const n = encoded.length;
  const L = spec.maxLength;
  const dims = (width: number) => {
    const axes = spec.layout === 'batch-first' ? [n, L] : [L, n];
    return width ? [...axes, width] : axes;
  };
  const feeds: Record<string, TensorData> = {};
  if (isVectors(spec)) {
    const rows = encoded.map((e) => (e.kind === 'vectors' ? e.vectors : new Float32Array(L * dim)));
    feeds[spec.tensor] = float32(lay(rows, L, dim, spec.layout, new Float32Array(n * L * dim)), dims(dim));
  } else {
    const ids = encoded.map((e) => (e.kind === 'ids' ? e.ids : new BigInt64Array(L)));
    feeds[spec.idsTensor] = int64(lay(ids, L, 1, spec.layout, new BigInt64Array(n * L)), dims(0));
    if (spec.attentionMaskTensor) {
      const masks = encoded.map((e) => (e.kind === 'ids' ? e.mask : new BigInt64Array(L)));
      feeds[spec.attentionMaskTensor] = int64(lay(masks, L, 1, spec.layout, new BigInt64Array(n * L)), dims(0));
    }
  }
  if (spec.lengthsTensor) {
    feeds[spec.lengthsTensor] = int64(
      BigInt64Array.from(encoded, (e) => BigInt(e.length)),
      [n],
    );
  }
  return feeds;
}

/**
 * Preprocessing maths: decoded pixels to the model's image tensor layout, caption bytes to
 * clean text, token ids to padded int64 rows. Decoding images and tokenising belong to the
 * adapters; what is done to their output is here.
 */
import { PairError } from './errors.js';
import type { ImageInput } from './manifest.js';

/**
 * 8-bit RGB pixels (HWC, already resized to the input size) into the manifest's layout and
 * channel order, normalised as (x / 255 - mean) / std, written at `out[offset...]`.
 */
export function writeImageTensor(rgb: Uint8Array, spec: ImageInput, out: Float32Array, offset = 0): void {
  const plane = spec.width * spec.height;
  if (rgb.length !== plane * 3) {
    throw new RangeError(`expected ${plane * 3} bytes of RGB for ${spec.width}x${spec.height}, got ${rgb.length}`);
  }
  const order = spec.channelOrder === 'rgb' ? [0, 1, 2] : [2, 1, 0];
  const scale = order.map((c) => 1 / (255 * spec.std[c]));
  const shift = order.map((c) => spec.mean[c] / spec.std[c]);
  if (spec.layout === 'nchw') {
    // One pass over the pixels, writing the three planes (a pass a plane read each pixel three times).
    const [s0, s1, s2] = order;
    const [a0, a1, a2] = scale;
    const [b0, b1, b2] = shift;
    const o1 = offset + plane;
    const o2 = offset + 2 * plane;
    for (let i = 0, j = 0; i < plane; i++, j += 3) {
      out[offset + i] = rgb[j + s0] * a0 - b0;
      out[o1 + i] = rgb[j + s1] * a1 - b1;
      out[o2 + i] = rgb[j + s2] * a2 - b2;
    }
  } else {
    for (let i = 0; i < plane; i++) {
      for (let k = 0; k < 3; k++) out[offset + i * 3 + k] = rgb[i * 3 + order[k]] * scale[k] - shift[k];
    }
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
// C0 controls but tab, newline and carriage return; and DEL. NUL is one of them.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;

/**
 * Caption bytes to the text that is tokenised and recorded. Defined behaviour:
 * - invalid UTF-8 is an error (TEXT_INVALID_UTF8), never silently replaced;
 * - a byte-order mark is dropped; NUL and other control characters become spaces;
 * - leading and trailing whitespace is trimmed; what is left must not be empty (TEXT_EMPTY).
 * Strings (already decoded) go through the same cleaning.
 */
/** The most bytes an image file may have (a guard on memory, checked before it is downloaded). */
export const MAX_IMAGE_BYTES = 25 * 1024 * 1024;

/** The most bytes a pair's text may have, in a file or a manifest line. */
export const MAX_TEXT_BYTES = 64 * 1024;

export function cleanText(input: Uint8Array | string, maxBytes = MAX_TEXT_BYTES): string {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    if (input.length > maxBytes) {
      throw new PairError('TEXT_TOO_MANY_BYTES', `text is ${input.length} bytes; the limit is ${maxBytes}`);
    }
    try {
      text = UTF8.decode(input);
    } catch (error) {
      throw new PairError('TEXT_INVALID_UTF8', 'text is not valid UTF-8', { cause: error });
    }
  }
  const cleaned = text.replace(CONTROL, ' ').trim();
  if (!cleaned) throw new PairError('TEXT_EMPTY', 'text is empty after trimming whitespace and control characters');
  return cleaned;
}

/** Token ids truncated to maxLength and right-padded, with the attention mask. */
export function padTokenIds(
  ids: readonly number[],
  maxLength: number,
  padId: number,
): { ids: BigInt64Array; mask: BigInt64Array; truncated: boolean } {
  const outIds = new BigInt64Array(maxLength).fill(BigInt(padId));
  const mask = new BigInt64Array(maxLength);
  const n = Math.min(ids.length, maxLength);
  for (let i = 0; i < n; i++) {
    outIds[i] = BigInt(ids[i]);
    mask[i] = 1n;
  }
  return { ids: outIds, mask, truncated: ids.length > maxLength };
}

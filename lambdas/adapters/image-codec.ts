/**
 * The image codec: sharp (libvips). Decodes every format sharp reads (PNG, JPEG, WebP, the
 * first frame of a GIF, TIFF, AVIF), applies EXIF orientation, turns CMYK, greyscale,
 * 16-bit and alpha images into 8-bit sRGB RGB, and resizes as the manifest says. Also
 * encodes dense outputs as PNGs (fast-png: 1-bit masks, 8-bit palette class maps, 16-bit value
 * maps) and reads them back, and reads truth pictures of any format (sharp).
 */
import { readFile } from 'node:fs/promises';
import { decode as decodePng, encode as encodePng } from 'fast-png';
import sharp, { type SharpOptions } from 'sharp';
import { PairError } from '../core/errors.js';
import type { BinaryMask, DenseImage } from '../core/kinds/index.js';
import type { ImageInput } from '../core/manifest.js';
import type { ImageDecoder } from '../core/pipeline.js';
import { MAX_IMAGE_BYTES } from '../core/preprocess.js';

export interface ImageLimits {
  /** Largest accepted file, in bytes. */
  readonly maxBytes: number;
  /** Largest accepted width × height: a guard against decompression bombs. */
  readonly maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: MAX_IMAGE_BYTES, maxPixels: 40_000_000 };

const FIT = { stretch: 'fill', contain: 'contain', cover: 'cover' } as const;
/** The raster formats accepted, as sharp names them (AVIF is `heif`). SVG, PDF and the rest
 * that libvips could also read are refused: they are not photos, and rendering them widens
 * what a hostile upload can reach. */
const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff', 'heif']);

/**
 * libvips messages to stable codes; the original message stays in the record. libvips keeps
 * one error buffer for all its threads, so under concurrent decodes a message can be another
 * image's or empty: once the header has been read (`headerRead`), a failure is the pixel data's,
 * truncated or corrupt, whatever the message says.
 */
function classify(error: unknown, headerRead = false): PairError {
  const message = error instanceof Error ? error.message : String(error);
  const lower = message.toLowerCase();
  if (lower.includes('pixel limit')) {
    return new PairError('IMAGE_TOO_MANY_PIXELS', `image exceeds the pixel limit: ${message}`, { cause: error });
  }
  if (lower.includes('unsupported image format') || lower.includes('bad seek') || lower.includes('not a known')) {
    return new PairError('IMAGE_UNREADABLE', `not an image in a readable format: ${message}`, { cause: error });
  }
  if (
    headerRead ||
    /truncat|premature end|unexpected end|corrupt|incomplete|read error|out of data|invalid|bad |crc/.test(lower)
  ) {
    return new PairError('IMAGE_TRUNCATED', `image data is truncated or corrupt: ${message}`, { cause: error });
  }
  return new PairError('IMAGE_UNREADABLE', `image could not be decoded: ${message}`, { cause: error });
}

export class SharpImageDecoder implements ImageDecoder {
  constructor(private readonly limits: ImageLimits = DEFAULT_IMAGE_LIMITS) {}

  async decode(
    bytes: Uint8Array,
    spec: ImageInput,
  ): Promise<{ rgb: Uint8Array; original: { width: number; height: number } }> {
    if (bytes.length === 0) throw new PairError('IMAGE_EMPTY', 'image file is empty (0 bytes)');
    if (bytes.length > this.limits.maxBytes) {
      throw new PairError(
        'IMAGE_TOO_MANY_BYTES',
        `image is ${bytes.length} bytes; the limit is ${this.limits.maxBytes}`,
      );
    }
    const options: SharpOptions = {
      limitInputPixels: this.limits.maxPixels,
      failOn: 'truncated',
      pages: 1, // the first frame of an animation
      autoOrient: true,
    };
    let original: { width: number; height: number };
    try {
      const meta = await sharp(bytes, options).metadata();
      if (!ACCEPTED_FORMATS.has(meta.format)) {
        throw new PairError(
          'IMAGE_UNREADABLE',
          `images in format '${meta.format}' are not accepted; accepted: PNG, JPEG, WebP, GIF, TIFF, AVIF`,
        );
      }
      original = meta.autoOrient ?? { width: meta.width, height: meta.height };
    } catch (error) {
      throw error instanceof PairError ? error : classify(error);
    }
    if (original.width * original.height > this.limits.maxPixels) {
      throw new PairError(
        'IMAGE_TOO_MANY_PIXELS',
        `image is ${original.width}x${original.height} pixels; the limit is ${this.limits.maxPixels} pixels`,
      );
    }
    const [r, g, b] = spec.background;
    try {
      const { data, info } = await sharp(bytes, options)
        .flatten({ background: { r, g, b } })
        .toColourspace('srgb')
        .resize(spec.width, spec.height, {
          fit: FIT[spec.resize],
          kernel: spec.resizeKernel,
          background: { r, g, b, alpha: 1 },
          position: 'centre',
        })
        .removeAlpha()
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (info.channels !== 3 || info.width !== spec.width || info.height !== spec.height) {
        throw new Error(
          `decoder produced ${info.width}x${info.height}x${info.channels}, not ${spec.width}x${spec.height}x3`,
        );
      }
      return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), original };
    } catch (error) {
      throw classify(error, true);
    }
  }
}

/**
 * A binary mask as a 1-bit greyscale PNG (black out, white in). Encoded in JavaScript, not by
 * sharp: a libvips call costs about 0.6 ms of fixed overhead (thread hand-offs, operation
 * set-up), more than the whole encoding of a packed 1-bit mask, and it ran once per mask.
 */
export function encodeMaskPng(mask: BinaryMask): Uint8Array {
  const rowBytes = Math.ceil(mask.width / 8);
  const packed = new Uint8Array(rowBytes * mask.height);
  for (let y = 0; y < mask.height; y++) {
    const source = y * mask.width;
    const target = y * rowBytes;
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[source + x]) packed[target + (x >> 3)] |= 0x80 >> (x & 7);
    }
  }
  return encodePng({ width: mask.width, height: mask.height, data: packed, depth: 1, channels: 1 });
}

/** A dense output as a PNG: a 1-bit mask, an 8-bit class map with its palette, or 16-bit values. */
export function encodeDensePng(image: DenseImage): Uint8Array {
  switch (image.kind) {
    case 'mask':
      return encodeMaskPng(image);
    case 'classes':
      // With no palette (a truth file), plain 8-bit grey: the values are the indices either way.
      return encodePng({
        width: image.width,
        height: image.height,
        data: image.data,
        depth: 8,
        channels: 1,
        ...(image.palette.length ? { palette: image.palette.map((c) => [c[0], c[1], c[2]]) } : {}),
      });
    case 'values':
      return encodePng({ width: image.width, height: image.height, data: image.data, depth: 16, channels: 1 });
  }
}

/** A dense output PNG as written by encodeDensePng (fast-png keeps palette indices and 16-bit values). */
export function decodeDensePng(bytes: Uint8Array): DenseImage {
  const png = decodePng(bytes);
  const { width, height } = png;
  if (png.channels !== 1) throw new RangeError(`a dense output PNG has one channel, this one ${png.channels}`);
  if (png.palette) {
    return {
      kind: 'classes',
      width,
      height,
      data: png.data as Uint8Array,
      palette: png.palette.map((c) => [c[0], c[1], c[2]] as const),
    };
  }
  if (png.depth === 16) return { kind: 'values', width, height, data: png.data as Uint16Array };
  if (png.depth === 1) return { kind: 'mask', width, height, data: unpackBits(png.data as Uint8Array, width, height) };
  // 8-bit grey: a mask written by another tool.
  return { kind: 'mask', width, height, data: (png.data as Uint8Array).map((v) => (v > 127 ? 255 : 0)) };
}

function unpackBits(packed: Uint8Array, width: number, height: number): Uint8Array {
  const rowBytes = Math.ceil(width / 8);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (packed[y * rowBytes + (x >> 3)] & (0x80 >> (x & 7))) data[y * width + x] = 255;
    }
  }
  return data;
}

/** A mask PNG (any bit depth or colour) as a binary mask: a pixel is in when its grey value is over 127. */
export async function decodeMaskPng(bytes: Uint8Array | string): Promise<BinaryMask> {
  const { data, info } = await sharp(bytes).greyscale().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * A ground-truth picture file read as the form a kind compares: a mask (any format; grey over
 * 127 is in), a class map (a PNG whose pixel values, or palette indices, are class indices),
 * or values (a 16-bit or 8-bit grey PNG, 8-bit scaled to 16).
 */
export async function readTruthImage(file: string, form: DenseImage['kind']): Promise<DenseImage> {
  if (form === 'mask') return { kind: 'mask', ...(await decodeMaskPng(file)) };
  const png = decodePng(await readFile(file));
  if (png.channels !== 1)
    throw new RangeError(`${file}: a ${form} truth PNG has one channel, this one ${png.channels}`);
  const { width, height } = png;
  if (form === 'classes') {
    if (png.depth !== 8) throw new RangeError(`${file}: a class map is an 8-bit PNG, this one is ${png.depth}-bit`);
    return { kind: 'classes', width, height, data: png.data as Uint8Array, palette: [] };
  }
  const data = png.depth === 16 ? (png.data as Uint16Array) : Uint16Array.from(png.data as Uint8Array, (v) => v * 257);
  return { kind: 'values', width, height, data };
}

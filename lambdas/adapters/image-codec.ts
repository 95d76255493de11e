/**
 * The image codec: sharp (libvips). Decodes every format sharp reads (PNG, JPEG, WebP, the
 * first frame of a GIF, TIFF, AVIF), applies EXIF orientation, turns CMYK, greyscale,
 * 16-bit and alpha images into 8-bit sRGB RGB, and resizes as the manifest says. Also
 * encodes dense outputs as PNGs (1-bit masks, 8-bit palette class maps, 16-bit value maps;
 * written here with Node's zlib), reads them back (fast-png), and reads truth pictures of any
 * format (sharp).
 */
import { readFile } from 'node:fs/promises';
import zlib from 'node:zlib';
import { decode as decodePng } from 'fast-png';
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

/**
 * The format and upright size of a PNG, JPEG or WebP read from its first bytes, or null when
 * the file is not one of these, could be turned by EXIF orientation, or anything is unusual:
 * then sharp's metadata() reads it. Asking sharp costs a libvips call (about 0.15 ms of CPU,
 * most of it fixed overhead, and two thread hand-offs) before the decode, for what the first
 * hundred bytes say; libvips picks its loader by the same signatures.
 */
export function headerSize(bytes: Uint8Array): { format: string; width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const at = (i: number, text: string) => {
    for (let k = 0; k < text.length; k++) if (bytes[i + k] !== text.charCodeAt(k)) return false;
    return true;
  };
  const sized = (format: string, width: number, height: number) =>
    width > 0 && height > 0 ? { format, width, height } : null;
  try {
    // PNG: the signature, then IHDR; an eXIf chunk (anywhere) may hold an orientation.
    if (at(0, '\x89PNG\r\n\x1a\n')) {
      if (view.getUint32(8) !== 13 || !at(12, 'IHDR')) return null;
      let i = 8;
      for (; i + 8 <= bytes.length && !at(i + 4, 'IEND'); i += 12 + view.getUint32(i)) {
        if (at(i + 4, 'eXIf')) return null;
      }
      return sized('png', view.getUint32(16), view.getUint32(20));
    }
    // JPEG: markers up to the frame header (SOFn); an APP1 Exif segment may hold an orientation.
    if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      for (let i = 2; i + 4 <= bytes.length; ) {
        if (bytes[i] !== 0xff) return null;
        const marker = bytes[i + 1];
        if (marker === 0xff) {
          i++; // fill byte
          continue;
        }
        if (marker === 0xd8 || marker === 0xd9 || marker === 0xda) return null; // no frame header first
        if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
          i += 2; // no length
          continue;
        }
        const length = view.getUint16(i + 2);
        if (length < 2) return null;
        if (marker === 0xe1 && at(i + 4, 'Exif')) return null;
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
          return sized('jpeg', view.getUint16(i + 7), view.getUint16(i + 5));
        }
        i += 2 + length;
      }
      return null;
    }
    // WebP: RIFF, then a simple-format chunk (VP8 or VP8L), or VP8X; none with EXIF or animation.
    if (at(0, 'RIFF') && at(8, 'WEBP') && bytes.length >= 30) {
      for (
        let i = 12;
        i + 8 <= bytes.length;
        i += 8 + view.getUint32(i + 4, true) + (view.getUint32(i + 4, true) & 1)
      ) {
        if (at(i, 'EXIF') || at(i, 'ANIM') || at(i, 'ANMF')) return null;
      }
      if (at(12, 'VP8 ')) {
        if (bytes[23] !== 0x9d || bytes[24] !== 0x01 || bytes[25] !== 0x2a) return null;
        return sized('webp', view.getUint16(26, true) & 0x3fff, view.getUint16(28, true) & 0x3fff);
      }
      if (at(12, 'VP8L')) {
        if (bytes[20] !== 0x2f) return null;
        const bits = view.getUint32(21, true);
        return sized('webp', (bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
      }
      if (at(12, 'VP8X')) {
        if (bytes[20] & (0x08 | 0x02)) return null; // flags: EXIF, animation
        const width = 1 + (bytes[24] | (bytes[25] << 8) | (bytes[26] << 16));
        const height = 1 + (bytes[27] | (bytes[28] << 8) | (bytes[29] << 16));
        return sized('webp', width, height);
      }
    }
    return null;
  } catch {
    return null; // a length past the end: let libvips judge the file
  }
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
    const header = headerSize(bytes);
    const options: SharpOptions = {
      limitInputPixels: this.limits.maxPixels,
      failOn: 'truncated',
      pages: 1, // the first frame of an animation
      // A file headerSize reads carries no EXIF orientation: asking sharp to apply one would
      // only add a copy of the image (without its orientation field) to the pipeline.
      autoOrient: header === null,
    };
    const original = header ? { width: header.width, height: header.height } : await this.readHeader(bytes, options);
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

  /** The format (checked) and upright size, from libvips: for what headerSize does not read. */
  private async readHeader(bytes: Uint8Array, options: SharpOptions): Promise<{ width: number; height: number }> {
    try {
      const meta = await sharp(bytes, options).metadata();
      if (!ACCEPTED_FORMATS.has(meta.format)) {
        throw new PairError(
          'IMAGE_UNREADABLE',
          `images in format '${meta.format}' are not accepted; accepted: PNG, JPEG, WebP, GIF, TIFF, AVIF`,
        );
      }
      return meta.autoOrient ?? { width: meta.width, height: meta.height };
    } catch (error) {
      throw error instanceof PairError ? error : classify(error);
    }
  }
}

/**
 * The PNG writer of dense outputs: one IDAT, no filter, compressed by Node's zlib with the
 * run-length strategy. Masks and class maps are long runs of one value, which Z_RLE
 * codes as well as a full LZ77 search (smaller than fast-png's fflate at level 3 on the
 * evaluation set) for a tenth of the CPU; fflate in JavaScript took about 2 ms a pair, most
 * of the host's work after decoding. Built here, not by sharp: a libvips call costs about
 * 0.6 ms of fixed overhead (thread hand-offs, operation set-up), and it would run per mask.
 */
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const DEFLATE_RLE = { strategy: zlib.constants.Z_RLE } as const;

/** CRC-32 as PNG chunks use it: zlib's own where Node has it (20.15 on), else a table. */
const crc32: (data: Uint8Array, value?: number) => number =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : tableCrc32();

function tableCrc32() {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return (data: Uint8Array, value = 0) => {
    let c = ~value;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
    return ~c >>> 0;
  };
}

/**
 * A one-channel PNG from its scanlines, each already led by its filter byte (0: none):
 * IHDR, PLTE when there is a palette (colour type 3, else grey), one IDAT, IEND.
 */
function writePng(
  width: number,
  height: number,
  depth: 1 | 8 | 16,
  scanlines: Uint8Array,
  palette?: readonly (readonly [number, number, number])[],
): Uint8Array {
  const idat = zlib.deflateSync(scanlines, DEFLATE_RLE);
  const chunks: [string, Uint8Array][] = [];
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header[8] = depth;
  header[9] = palette ? 3 : 0; // colour type: indexed, or greyscale
  // compression, filter method and interlace: 0 (deflate, adaptive, none)
  chunks.push(['IHDR', header]);
  if (palette) chunks.push(['PLTE', Uint8Array.from(palette.flatMap((c) => [c[0], c[1], c[2]]))]);
  chunks.push(['IDAT', idat], ['IEND', new Uint8Array(0)]);
  const png = new Uint8Array(PNG_SIGNATURE.length + chunks.reduce((n, [, data]) => n + 12 + data.length, 0));
  const out = new DataView(png.buffer);
  png.set(PNG_SIGNATURE);
  let at = PNG_SIGNATURE.length;
  for (const [type, data] of chunks) {
    out.setUint32(at, data.length);
    for (let i = 0; i < 4; i++) png[at + 4 + i] = type.charCodeAt(i);
    png.set(data, at + 8);
    out.setUint32(at + 8 + data.length, crc32(png.subarray(at + 4, at + 8 + data.length)));
    at += 12 + data.length;
  }
  return png;
}

/** A binary mask as a 1-bit greyscale PNG (black out, white in: any non-zero byte is in). */
export function encodeMaskPng(mask: BinaryMask): Uint8Array {
  const { width, height, data } = mask;
  const rowBytes = Math.ceil(width / 8);
  const whole = width >> 3; // bytes of a row with all 8 pixels in the image
  const lines = new Uint8Array((rowBytes + 1) * height); // zeros: filter byte 0, pixels out
  for (let y = 0; y < height; y++) {
    let source = y * width;
    const target = y * (rowBytes + 1) + 1;
    // -v >>> 31 is 1 for a byte over 0, 0 for 0: eight pixels to a byte, no branches.
    for (let b = 0; b < whole; b++, source += 8) {
      lines[target + b] =
        ((-data[source] >>> 31) << 7) |
        ((-data[source + 1] >>> 31) << 6) |
        ((-data[source + 2] >>> 31) << 5) |
        ((-data[source + 3] >>> 31) << 4) |
        ((-data[source + 4] >>> 31) << 3) |
        ((-data[source + 5] >>> 31) << 2) |
        ((-data[source + 6] >>> 31) << 1) |
        (-data[source + 7] >>> 31);
    }
    for (let x = whole * 8; x < width; x++) {
      if (data[y * width + x]) lines[target + whole] |= 0x80 >> (x & 7);
    }
  }
  return writePng(width, height, 1, lines);
}

/** Rows of `rowBytes` bytes each led by a filter byte of 0 (none). */
function scanlines(bytes: Uint8Array, rowBytes: number, height: number): Uint8Array {
  const lines = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    lines.set(bytes.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  }
  return lines;
}

/** A dense output as a PNG: a 1-bit mask, an 8-bit class map with its palette, or 16-bit values. */
export function encodeDensePng(image: DenseImage): Uint8Array {
  const { width, height } = image;
  switch (image.kind) {
    case 'mask':
      return encodeMaskPng(image);
    case 'classes':
      // With no palette (a truth file), plain 8-bit grey: the values are the indices either way.
      return writePng(
        width,
        height,
        8,
        scanlines(image.data, width, height),
        image.palette.length ? image.palette : undefined,
      );
    case 'values': {
      // PNG's 16-bit samples are big-endian.
      const bytes = new Uint8Array(width * height * 2);
      for (let i = 0; i < image.data.length; i++) {
        bytes[2 * i] = image.data[i] >>> 8;
        bytes[2 * i + 1] = image.data[i] & 0xff;
      }
      return writePng(width, height, 16, scanlines(bytes, width * 2, height));
    }
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

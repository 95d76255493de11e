/**
 * The report's pictures (sharp): small WebP thumbnails of the pairs' images, and each mask as
 * a transparent lossless WebP of exactly the thumbnail's size (outlined, lightly filled) that
 * the page lays over the thumbnail.
 */
import sharp from 'sharp';
import type { BinaryMask } from '../core/decoders/index.js';
import { DEFAULT_IMAGE_LIMITS } from './image-codec.js';

/** Longest side of a thumbnail, in pixels; smaller images are kept at their size. */
export const THUMBNAIL_SIZE = 160;
/** Opacity of a mask's inside (0-255); its outline is opaque. */
const FILL_ALPHA = 90;

export interface EncodedImage {
  readonly data: Buffer;
  readonly mime: string;
  readonly width: number;
  readonly height: number;
}

export const dataUri = (image: Pick<EncodedImage, 'data' | 'mime'>) =>
  `data:${image.mime};base64,${image.data.toString('base64')}`;

/** A thumbnail as the pipeline sees the image: first frame, EXIF orientation applied (masks are in that frame). */
export async function thumbnail(bytes: Uint8Array, size = THUMBNAIL_SIZE): Promise<EncodedImage> {
  const { data, info } = await sharp(bytes, {
    limitInputPixels: DEFAULT_IMAGE_LIMITS.maxPixels,
    pages: 1,
    autoOrient: true,
    failOn: 'truncated',
  })
    .resize(size, size, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 75, effort: 2 })
    .toBuffer({ resolveWithObject: true });
  return { data, mime: 'image/webp', width: info.width, height: info.height };
}

/** A mask (at the original image size) as a coloured, transparent overlay of `width` × `height`. */
export async function maskOverlay(
  mask: BinaryMask,
  width: number,
  height: number,
  color: readonly [number, number, number],
): Promise<EncodedImage> {
  // Nearest neighbour keeps the mask binary at any scale.
  const grey =
    mask.width === width && mask.height === height
      ? mask.data
      : await sharp(mask.data, { raw: { width: mask.width, height: mask.height, channels: 1 } })
          .resize(width, height, { fit: 'fill', kernel: 'nearest' })
          .extractChannel(0)
          .raw({ depth: 'uchar' })
          .toBuffer();
  // A solid outline where the mask meets the outside, a light fill inside: the object stays visible.
  const inside = (x: number, y: number) => x >= 0 && y >= 0 && x < width && y < height && grey[y * width + x] > 127;
  const rgba = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y)) continue;
      const edge = !inside(x - 1, y) || !inside(x + 1, y) || !inside(x, y - 1) || !inside(x, y + 1);
      const i = 4 * (y * width + x);
      rgba[i] = color[0];
      rgba[i + 1] = color[1];
      rgba[i + 2] = color[2];
      rgba[i + 3] = edge ? 255 : FILL_ALPHA;
    }
  }
  // Lossless WebP: a third of a palette PNG's bytes here, and faster to encode.
  const data = await sharp(rgba, { raw: { width, height, channels: 4 } })
    .webp({ lossless: true, effort: 2 })
    .toBuffer();
  return { data, mime: 'image/webp', width, height };
}

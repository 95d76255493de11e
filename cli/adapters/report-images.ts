/**
 * The report's pictures (sharp): small WebP thumbnails of the pairs' images, and the overlays
 * the task kinds draw (masks, class maps, heat maps) as transparent lossless WebPs of exactly
 * the thumbnail's size, which the page lays over the thumbnail.
 */
import sharp from 'sharp';
import { DEFAULT_IMAGE_LIMITS } from '../../lambdas/adapters/image-codec.js';

/** Longest side of a thumbnail, in pixels; smaller images are kept at their size. */
export const THUMBNAIL_SIZE = 160;

export interface EncodedImage {
  readonly data: Buffer;
  readonly mime: string;
  readonly width: number;
  readonly height: number;
}

export const dataUri = (image: Pick<EncodedImage, 'data' | 'mime'>) =>
  `data:${image.mime};base64,${image.data.toString('base64')}`;

/**
 * A thumbnail as the pipeline sees the image (first frame, EXIF orientation applied: dense
 * outputs and boxes are in that frame), with the size of that frame at full resolution.
 */
export async function thumbnail(
  bytes: Uint8Array,
  size = THUMBNAIL_SIZE,
): Promise<EncodedImage & { original: { width: number; height: number } }> {
  const image = sharp(bytes, {
    limitInputPixels: DEFAULT_IMAGE_LIMITS.maxPixels,
    pages: 1,
    autoOrient: true,
    failOn: 'truncated',
  });
  const [{ autoOrient: original }, { data, info }] = await Promise.all([
    image.metadata(),
    image
      .clone()
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .webp({ quality: 75, effort: 2 })
      .toBuffer({ resolveWithObject: true }),
  ]);
  return { data, mime: 'image/webp', width: info.width, height: info.height, original };
}

/** An overlay's RGBA pixels as a transparent lossless WebP (a third of a palette PNG's bytes here, and faster). */
export async function overlayWebp(rgba: Uint8Array, width: number, height: number): Promise<EncodedImage> {
  const data = await sharp(rgba, { raw: { width, height, channels: 4 } })
    .webp({ lossless: true, effort: 2 })
    .toBuffer();
  return { data, mime: 'image/webp', width, height };
}

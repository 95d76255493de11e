/**
 * How segmentation-type outputs (binary masks, class maps) are kept, a per-deployment setting:
 * `rle` inline in the record as COCO run-length encoding (no object, no PUT), `png` as a PNG
 * object beside the records that the record names by key, or `both`. Value maps (the `map`
 * kind) are not binary and are PNGs whatever the setting.
 */
export const MASK_FORMATS = ['rle', 'png', 'both'] as const;
export type MaskFormat = (typeof MASK_FORMATS)[number];

/**
 * RLE: on the reference model it takes the two PUTs a pair (about 85 % of a Lambda job's cost)
 * off for about 0.8 KB more record a pair (README, "Masks inline or as PNGs").
 */
export const DEFAULT_MASK_FORMAT: MaskFormat = 'rle';

export const writesPng = (format: MaskFormat) => format !== 'rle';
export const writesRle = (format: MaskFormat) => format !== 'png';

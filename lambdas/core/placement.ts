/**
 * Where the original image lies in the model's input after resizing: model = original *
 * scale + offset, per axis. Dense decoders use it to map outputs back to original pixels.
 * Sizes and offsets follow sharp's arithmetic for `contain` and `cover`: the scaled side is
 * the source side divided by the shrink factor, rounded; a letterbox is centred with the odd
 * pixel after the image; a cover crop starts at ceil(excess / 2).
 */
import type { ImageInput } from './manifest.js';

export interface Size {
  readonly width: number;
  readonly height: number;
}

export interface Placement {
  readonly scaleX: number;
  readonly scaleY: number;
  readonly offsetX: number;
  readonly offsetY: number;
}

export function placementFor(mode: ImageInput['resize'], original: Size, target: Size): Placement {
  if (mode === 'stretch') {
    return { scaleX: target.width / original.width, scaleY: target.height / original.height, offsetX: 0, offsetY: 0 };
  }
  const shrinkX = original.width / target.width;
  const shrinkY = original.height / target.height;
  const shrink = mode === 'contain' ? Math.max(shrinkX, shrinkY) : Math.min(shrinkX, shrinkY);
  const width = Math.max(1, Math.round(original.width / shrink));
  const height = Math.max(1, Math.round(original.height / shrink));
  return {
    scaleX: width / original.width,
    scaleY: height / original.height,
    // contain pads (positive offset), cover crops (negative offset).
    offsetX: mode === 'contain' ? Math.floor((target.width - width) / 2) : -Math.ceil((width - target.width) / 2),
    offsetY: mode === 'contain' ? Math.floor((target.height - height) / 2) : -Math.ceil((height - target.height) / 2),
  };
}

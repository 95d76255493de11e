/**
 * Where the original image lies in the model's input after resizing: model = original *
 * scale + offset, per axis. Dense decoders use it to map outputs back to original pixels.
 * Offsets follow the centred placement the image codec uses for `contain` and `cover`.
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
  const s =
    mode === 'contain'
      ? Math.min(target.width / original.width, target.height / original.height)
      : Math.max(target.width / original.width, target.height / original.height);
  const width = Math.max(1, Math.round(original.width * s));
  const height = Math.max(1, Math.round(original.height * s));
  return {
    scaleX: width / original.width,
    scaleY: height / original.height,
    // contain pads (positive offset), cover crops (negative offset); both centred.
    offsetX: mode === 'contain' ? Math.floor((target.width - width) / 2) : -Math.floor((width - target.width) / 2),
    offsetY: mode === 'contain' ? Math.floor((target.height - height) / 2) : -Math.floor((height - target.height) / 2),
  };
}

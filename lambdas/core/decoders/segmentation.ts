import { col } from '../columns.js';
import type { Task } from '../manifest.js';
import type { Placement, Size } from '../placement.js';
import { round6, type SegmentationResult } from '../records.js';
import type { BinaryMask, TaskDecoder } from './decoder.js';

type SegmentationTask = Extract<Task, { kind: 'segmentation' }>;

/**
 * Bilinear resampling of a [h, w] plane of raw outputs onto the original image's pixel
 * grid, through the placement of the original in the model input (half-pixel centres, as
 * PyTorch's `interpolate(align_corners=False)`), then a threshold. Pixels that fall outside
 * what the model saw (the crop of `cover`) are outside the mask.
 */
export function maskAtOriginalSize(
  plane: Float32Array,
  planeSize: Size,
  input: Size,
  placement: Placement,
  original: Size,
  cutoff: number,
): BinaryMask {
  const { width: mw, height: mh } = planeSize;
  const fx = mw / input.width;
  const fy = mh / input.height;
  const data = new Uint8Array(original.width * original.height);
  // Per-column sample positions are the same for every row: compute them once.
  const x0s = new Int32Array(original.width);
  const x1s = new Int32Array(original.width);
  const wxs = new Float32Array(original.width);
  const xInside = new Uint8Array(original.width);
  for (let u = 0; u < original.width; u++) {
    const x = (u + 0.5) * placement.scaleX + placement.offsetX; // model-input coordinates
    xInside[u] = Number(x >= 0 && x <= input.width);
    const s = Math.min(Math.max(x * fx - 0.5, 0), mw - 1);
    x0s[u] = Math.floor(s);
    x1s[u] = Math.min(x0s[u] + 1, mw - 1);
    wxs[u] = s - x0s[u];
  }
  // A bilinear value lies between its four samples: where all four are clearly on one side of
  // the cutoff, so is every pixel between them, and only cells that straddle it (the object's
  // edge) need the arithmetic. The margin keeps rounding from ever deciding a pixel.
  const margin = 1e-5 * (1 + Math.abs(cutoff));
  const cells = new Int8Array(mh * mw); // 1: all in, -1: all out, 0: straddles
  const rowOut = new Uint8Array(mh); // every cell of the row is out
  for (let y0 = 0; y0 < mh; y0++) {
    const y1 = Math.min(y0 + 1, mh - 1);
    let allOut = 1;
    for (let x0 = 0; x0 < mw; x0++) {
      const x1 = Math.min(x0 + 1, mw - 1);
      const a = plane[y0 * mw + x0];
      const b = plane[y0 * mw + x1];
      const c = plane[y1 * mw + x0];
      const d = plane[y1 * mw + x1];
      const lo = Math.min(a, b, c, d);
      const hi = Math.max(a, b, c, d);
      const state = lo >= cutoff + margin ? 1 : hi < cutoff - margin ? -1 : 0;
      cells[y0 * mw + x0] = state;
      if (state !== -1) allOut = 0;
    }
    rowOut[y0] = allOut;
  }
  for (let v = 0; v < original.height; v++) {
    const y = (v + 0.5) * placement.scaleY + placement.offsetY;
    if (y < 0 || y > input.height) continue;
    const s = Math.min(Math.max(y * fy - 0.5, 0), mh - 1);
    const y0 = Math.floor(s);
    if (rowOut[y0]) continue;
    const y1 = Math.min(y0 + 1, mh - 1);
    const wy = s - y0;
    const row0 = y0 * mw;
    const row1 = y1 * mw;
    const out = v * original.width;
    for (let u = 0; u < original.width; u++) {
      if (!xInside[u]) continue;
      const state = cells[row0 + x0s[u]];
      if (state === -1) continue;
      if (state === 1) {
        data[out + u] = 255;
        continue;
      }
      const wx = wxs[u];
      const top = plane[row0 + x0s[u]] * (1 - wx) + plane[row0 + x1s[u]] * wx;
      const bottom = plane[row1 + x0s[u]] * (1 - wx) + plane[row1 + x1s[u]] * wx;
      if (top * (1 - wy) + bottom * wy >= cutoff) data[out + u] = 255;
    }
  }
  return { width: original.width, height: original.height, data };
}

/** Fraction of pixels in the mask, and their bounding box. */
export function maskStats(mask: BinaryMask): Pick<SegmentationResult, 'coverage' | 'box'> {
  let count = 0;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < mask.height; y++) {
    const row = y * mask.width;
    for (let x = 0; x < mask.width; x++) {
      if (mask.data[row + x]) {
        count++;
        if (x < minX) minX = x;
        if (x > maxX) maxX = x;
        if (y < minY) minY = y;
        if (y > maxY) maxY = y;
      }
    }
  }
  return {
    coverage: round6(count / (mask.width * mask.height)),
    box: count ? { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 } : null,
  };
}

/** The raw-output value at which the activated value reaches the threshold. */
function rawCutoff(task: SegmentationTask): number {
  if (task.activation === 'identity') return task.threshold;
  if (task.threshold <= 0) return -Infinity;
  if (task.threshold >= 1) return Infinity;
  return Math.log(task.threshold / (1 - task.threshold)); // sigmoid is monotonic: compare logits
}

export const segmentationDecoder: TaskDecoder<SegmentationTask> = {
  kind: 'segmentation',
  column: () =>
    col.struct({
      mask: col.string,
      width: col.int,
      height: col.int,
      coverage: col.double,
      box: col.struct({ x: col.int, y: col.int, width: col.int, height: col.int }),
    }),
  async decode(task, output, ctx): Promise<SegmentationResult> {
    const dims = output.dims.length === 3 ? output.dims.slice(1) : output.dims;
    const planeSize = { height: dims[0], width: dims[1] };
    const mask = maskAtOriginalSize(output.values, planeSize, ctx.input, ctx.placement, ctx.original, rawCutoff(task));
    const stats = maskStats(mask);
    const key = await ctx.saveMask(task.name, mask);
    return { mask: key, width: mask.width, height: mask.height, ...stats };
  },
};

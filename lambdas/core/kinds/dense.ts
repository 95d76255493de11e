/**
 * Dense outputs back onto the original image: the sampling grid that maps each original pixel
 * through the placement into a [h, w] output plane (half-pixel centres, as PyTorch's
 * `interpolate(align_corners=False)`), the binary-mask fast path, and nearest-neighbour
 * sampling of a dense picture at a thumbnail's size. Used by every dense kind.
 */
import type { Placement, Size } from '../placement.js';
import { type BinaryMask, type Box, type OutputSpec, round6 } from './kind.js';

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
  const data = new Uint8Array(original.width * original.height);
  // Per-column and per-row sample positions, computed once.
  const xs = axisSamples(original.width, placement.scaleX, placement.offsetX, input.width, mw);
  const ys = axisSamples(original.height, placement.scaleY, placement.offsetY, input.height, mh);
  const { lo: x0s, hi: x1s } = xs;
  // Column weights in float32, as this path has always rounded them (the masks stay the same bytes).
  const wxs = Float32Array.from(xs.weight);
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
  // A run in a cell all in is one fill, in a cell all out nothing.
  const runs = cellColumnRuns(xs);
  const edges: number[] = []; // the runs of the current cell row over edge cells
  for (let v = 0; v < original.height; v++) {
    if (!ys.inside[v]) continue;
    const y0 = ys.lo[v];
    if (rowOut[y0]) continue;
    const y1 = ys.hi[v];
    const wy = ys.weight[v];
    const row0 = y0 * mw;
    const row1 = y1 * mw;
    const out = v * original.width;
    // A row in the same cells as the row above has the same runs all in: copied at once, only
    // the runs of cells on the edge (which depend on the row's weight) are worked out again,
    // from the list the cell row's first row made.
    const sameCells = v > 0 && ys.inside[v - 1] && ys.lo[v - 1] === y0;
    if (sameCells) data.copyWithin(out, out - original.width, out);
    else edges.length = 0;
    const count = sameCells ? edges.length : runs.length / 3;
    for (let n = 0; n < count; n++) {
      const r = sameCells ? edges[n] : 3 * n;
      const state = cells[row0 + runs[r + 2]];
      if (state === -1) continue;
      if (state === 1) {
        data.fill(255, out + runs[r], out + runs[r + 1]);
        continue;
      }
      if (!sameCells) edges.push(r);
      for (let u = runs[r]; u < runs[r + 1]; u++) {
        const wx = wxs[u];
        const top = plane[row0 + x0s[u]] * (1 - wx) + plane[row0 + x1s[u]] * wx;
        const bottom = plane[row1 + x0s[u]] * (1 - wx) + plane[row1 + x1s[u]] * wx;
        data[out + u] = top * (1 - wy) + bottom * wy >= cutoff ? 255 : 0;
      }
    }
  }
  return { width: original.width, height: original.height, data };
}

/**
 * Fraction of pixels in the mask, and their bounding box. Row by row: an empty row (most of a
 * mask) is passed over four bytes at a time where the row starts on a word, and only the span
 * between a row's first and last pixel in is counted.
 */
export function maskStats(mask: BinaryMask): { coverage: number; box: Box | null } {
  const { width, height, data } = mask;
  const words =
    width % 4 === 0 && data.byteOffset % 4 === 0
      ? new Uint32Array(data.buffer, data.byteOffset, (width * height) >> 2)
      : null;
  let count = 0;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -1;
  let maxY = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let first = 0;
    if (words) {
      // Rows start on a word (width and offset are multiples of 4): skip zero words.
      const end = (row + width) >> 2;
      let k = row >> 2;
      while (k < end && words[k] === 0) k++;
      if (k === end) continue;
      first = k * 4 - row;
    }
    while (first < width && !data[row + first]) first++;
    if (first === width) continue;
    let last = width - 1;
    while (!data[row + last]) last--;
    for (let x = first; x <= last; x++) if (data[row + x]) count++;
    if (first < minX) minX = first;
    if (last > maxX) maxX = last;
    if (y < minY) minY = y;
    maxY = y;
  }
  return {
    coverage: round6(count / (width * height)),
    box: count ? { x: minX, y: minY, width: maxX - minX + 1, height: maxY - minY + 1 } : null,
  };
}

/**
 * How many bytes have each value (a class map's pixels per class), 256 slots. Four bytes at a
 * time where a word repeats one value, as most of a map does: an increment a byte is a chain
 * of dependent adds on one slot, about 3 ns a pixel.
 */
export function valueCounts(data: Uint8Array): Float64Array {
  const counts = new Float64Array(256);
  const head = Math.min(data.length, (4 - (data.byteOffset % 4)) % 4); // bytes before a word boundary
  let i = 0;
  for (; i < head; i++) counts[data[i]]++;
  const n = (data.length - head) >> 2;
  const words = n ? new Uint32Array(data.buffer, data.byteOffset + head, n) : new Uint32Array(0);
  for (let k = 0; k < n; k++) {
    const word = words[k];
    const low = word & 0xff;
    if (word === low * 0x01010101) {
      counts[low] += 4;
    } else {
      counts[low]++;
      counts[(word >>> 8) & 0xff]++;
      counts[(word >>> 16) & 0xff]++;
      counts[word >>> 24]++;
    }
  }
  for (i += n * 4; i < data.length; i++) counts[data[i]]++;
  return counts;
}

/**
 * Per-axis bilinear sample positions of the original pixels in a plane of `planeLength` cells
 * over `inputLength` model-input pixels: the two cells and the weight of the second, and
 * whether the pixel lies in what the model saw (the crop of `cover` leaves some out).
 */
export function axisSamples(
  originalLength: number,
  scale: number,
  offset: number,
  inputLength: number,
  planeLength: number,
): { lo: Int32Array; hi: Int32Array; weight: Float64Array; inside: Uint8Array } {
  const f = planeLength / inputLength;
  const lo = new Int32Array(originalLength);
  const hi = new Int32Array(originalLength);
  const weight = new Float64Array(originalLength);
  const inside = new Uint8Array(originalLength);
  for (let u = 0; u < originalLength; u++) {
    const x = (u + 0.5) * scale + offset; // model-input coordinates
    inside[u] = Number(x >= 0 && x <= inputLength);
    const s = Math.min(Math.max(x * f - 0.5, 0), planeLength - 1);
    lo[u] = Math.floor(s);
    hi[u] = Math.min(lo[u] + 1, planeLength - 1);
    weight[u] = s - lo[u];
  }
  return { lo, hi, weight, inside };
}

/**
 * The seen original columns in runs that share a cell column (`lo` is non-decreasing), flat as
 * [start, end, cell column] triples: per cell row, a run over a cell that needs no
 * interpolation is one fill.
 */
export function cellColumnRuns(xs: { readonly lo: Int32Array; readonly inside: Uint8Array }): number[] {
  const runs: number[] = [];
  for (let u = 0; u < xs.lo.length; ) {
    if (!xs.inside[u]) {
      u++;
      continue;
    }
    const start = u;
    const x0 = xs.lo[u];
    while (u < xs.lo.length && xs.inside[u] && xs.lo[u] === x0) u++;
    runs.push(start, u, x0);
  }
  return runs;
}

/**
 * Calls `pixel(index, i00, i01, i10, i11, wx, wy)` for every original pixel the model saw, with
 * the plane offsets of its four bilinear neighbours and their weights; pixels outside are skipped.
 */
export function forEachBilinearPixel(
  planeSize: Size,
  input: Size,
  placement: Placement,
  original: Size,
  pixel: (index: number, i00: number, i01: number, i10: number, i11: number, wx: number, wy: number) => void,
): void {
  const xs = axisSamples(original.width, placement.scaleX, placement.offsetX, input.width, planeSize.width);
  const ys = axisSamples(original.height, placement.scaleY, placement.offsetY, input.height, planeSize.height);
  const w = planeSize.width;
  for (let v = 0; v < original.height; v++) {
    if (!ys.inside[v]) continue;
    const row0 = ys.lo[v] * w;
    const row1 = ys.hi[v] * w;
    const wy = ys.weight[v];
    const out = v * original.width;
    for (let u = 0; u < original.width; u++) {
      if (!xs.inside[u]) continue;
      pixel(out + u, row0 + xs.lo[u], row0 + xs.hi[u], row1 + xs.lo[u], row1 + xs.hi[u], xs.weight[u], wy);
    }
  }
}

/** The source pixel of each target pixel, nearest neighbour (for overlays at a thumbnail's size). */
export function nearestIndex(source: Size, target: Size): (x: number, y: number) => number {
  const xs = Int32Array.from({ length: target.width }, (_, x) =>
    Math.min(source.width - 1, Math.floor(((x + 0.5) * source.width) / target.width)),
  );
  const ys = Int32Array.from({ length: target.height }, (_, y) =>
    Math.min(source.height - 1, Math.floor(((y + 0.5) * source.height) / target.height)),
  );
  return (x, y) => ys[y] * source.width + xs[x];
}

/** The graph output of a one-channel dense task (masks, maps): [N, 1, H, W] or [N, H, W]. */
export const oneChannelPlane = (tensor: string): OutputSpec => ({
  field: 'output',
  tensor,
  shapes: [
    [1, null, null],
    [null, null],
  ],
});

/** The plane's size from an output slice's dimensions after the batch axis: [1, h, w] or [h, w]. */
export const planeSizeOf = (dims: readonly number[]): Size => {
  const hw = dims.length === 3 ? dims.slice(1) : dims;
  return { height: hw[0], width: hw[1] };
};

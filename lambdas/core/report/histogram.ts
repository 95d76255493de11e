/** Equal-width histograms, for the report's score, value and coverage charts. */

export interface Histogram {
  /** Lower edge of the first bin. */
  readonly min: number;
  /** Upper edge of the last bin (included in it). */
  readonly max: number;
  readonly counts: number[];
}

/**
 * Counts `values` in `bins` equal bins over `range` (default: the values' own range). Bins are
 * [lo, hi) except the last, [lo, hi]; values outside the range count in the nearest end bin;
 * non-finite values are left out. A range of one value is widened to one unit around it, so a
 * constant column still gets a bar.
 */
export function histogram(values: readonly number[], bins: number, range?: readonly [number, number]): Histogram {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
  const finite = values.filter(Number.isFinite);
  let [min, max] = range ?? [
    finite.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY),
    finite.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY),
  ];
  if (!Number.isFinite(min) || !Number.isFinite(max)) [min, max] = [0, 1];
  if (max < min) throw new RangeError(`range [${min}, ${max}] is empty`);
  if (max === min) [min, max] = [min - 0.5, max + 0.5];
  const counts = new Array<number>(bins).fill(0);
  const span = max - min;
  for (const v of finite) {
    // Multiplying before dividing keeps edges exact: 0.95 of [0, 1] in 20 bins is bin 19, not 18.
    const i = Math.floor(((v - min) * bins) / span);
    counts[Math.min(bins - 1, Math.max(0, i))]++;
  }
  return { min, max, counts };
}

/** Bins of every histogram in the report. */
export const REPORT_HISTOGRAM_BINS = 20;

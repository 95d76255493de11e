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

/** Values kept as they are before a histogram without a fixed range turns to its grid. */
export const EXACT_VALUES = 4096;
/** Fine bins of the grid, per bin of the histogram drawn. */
const FINE_PER_BIN = 16;

/**
 * The histogram of a stream of values, in memory that does not grow with their number.
 *
 * With a fixed `range`, it is exactly `histogram(values, bins, range)`. Without one (or with only
 * its lower edge, `from`), up to EXACT_VALUES values are kept and it is exactly `histogram` over
 * their own range (`[from, max]` with `from`). Past that, values are counted on a grid of
 * `bins × 16` fine bins whose width is a power of two, doubled (two fine bins merged into one,
 * which loses no count) whenever a value falls outside it; the histogram drawn then groups the
 * fine bins that hold values into at most `bins` bins, so its edges lie on that grid, just
 * outside the values' own range, and every count is exact.
 */
export class HistogramTally {
  private values: number[] | null = [];
  private fine: number[] = [];
  private origin = 0;
  private width = 1;
  /** The least and greatest values counted on the grid. */
  private lo = 0;
  private hi = 0;
  private readonly fixed?: readonly [number, number];
  private readonly from?: number;

  constructor(
    private readonly bins: number,
    bounds?: readonly [number, number] | { readonly from: number },
  ) {
    if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be a positive integer, got ${bins}`);
    if (Array.isArray(bounds)) {
      this.fixed = bounds as readonly [number, number];
      this.fine = new Array<number>(bins).fill(0);
      this.values = null;
    } else if (bounds) {
      this.from = (bounds as { from: number }).from;
    }
  }

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    if (this.fixed) {
      const [min, max] = this.fixed;
      const i = Math.floor(((value - min) * this.bins) / (max - min));
      this.fine[Math.min(this.bins - 1, Math.max(0, i))]++;
      return;
    }
    if (this.values) {
      this.values.push(value);
      if (this.values.length > EXACT_VALUES) this.toGrid();
      return;
    }
    this.count(value);
  }

  result(): Histogram {
    if (this.fixed) return { min: this.fixed[0], max: this.fixed[1], counts: [...this.fine] };
    if (this.values) {
      if (this.from === undefined) return histogram(this.values, this.bins);
      const top = this.values.reduce((a, b) => Math.max(a, b), this.from);
      return histogram(this.values, this.bins, [this.from, top > this.from ? top : this.from + 1]);
    }
    const used = this.fine.flatMap((c, i) => (c ? [i] : []));
    const first = this.from === undefined ? used[0] : 0;
    const span = used[used.length - 1] - first + 1;
    const group = Math.ceil(span / this.bins);
    const counts = new Array<number>(Math.ceil(span / group)).fill(0);
    for (let i = first; i <= used[used.length - 1]; i++) counts[Math.floor((i - first) / group)] += this.fine[i];
    return {
      min: this.origin + first * this.width,
      max: this.origin + (first + counts.length * group) * this.width,
      counts,
    };
  }

  private get size() {
    return this.bins * FINE_PER_BIN;
  }

  /** Leaves exact counting: a grid just wide enough for the values kept so far, then counts them. */
  private toGrid(): void {
    const values = this.values!;
    this.values = null;
    this.lo = this.from ?? values.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY);
    this.hi = values.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
    const span = this.hi - this.lo;
    // A power of two: doubling it stays exact, and every grid edge is a multiple of it.
    this.width = 2 ** Math.ceil(Math.log2(span > 0 ? span / this.size : Math.abs(this.lo) / this.size || 2 ** -20));
    this.fine = new Array<number>(this.size).fill(0);
    this.refit(this.lo, this.hi);
    for (const v of values) this.count(v);
  }

  private count(value: number): void {
    const lo = this.from ?? Math.min(this.lo, value);
    const hi = Math.max(this.hi, value);
    if (value < this.origin || value >= this.origin + this.size * this.width) this.refit(lo, hi);
    [this.lo, this.hi] = [lo, hi];
    const i = Math.floor((value - this.origin) / this.width);
    this.fine[Math.min(this.size - 1, Math.max(0, i))]++;
  }

  /**
   * Moves the grid over [lo, hi]: its width doubled until they fit, its origin on a multiple of
   * the width (or at `from`) with room on both sides. Each old bin lies wholly in one new bin
   * (old edges are multiples of the old width, which divides the new one), so no count moves
   * to a wrong bin.
   */
  private refit(lo: number, hi: number): void {
    const at = (v: number, width: number) => Math.floor((v - (this.from ?? 0)) / width);
    let width = this.width;
    while (at(hi, width) - at(lo, width) >= this.size) width *= 2;
    const room = Math.floor((this.size - 1 - (at(hi, width) - at(lo, width))) / 2);
    const origin = this.from ?? (at(lo, width) - room) * width;
    const fine = new Array<number>(this.size).fill(0);
    this.fine.forEach((c, i) => {
      if (c) fine[Math.floor((this.origin + i * this.width - origin) / width)] += c;
    });
    [this.fine, this.width, this.origin] = [fine, width, origin];
  }
}

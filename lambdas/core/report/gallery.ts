/**
 * Which pairs the report's gallery shows when a job has more than it holds. The summary counts
 * every pair; the gallery holds at most `size` cards, so a job of any size makes a page of
 * bounded size. Pairs that need a look (errors and, with ground truth, wrong pairs) come first,
 * up to half the gallery (more when the other pairs do not fill it); the rest is a uniform
 * sample of the other pairs. The sample is chosen by a hash of the pair id (the pairs whose
 * hashes are smallest), so it does not depend on the order the records arrive in: the same job
 * gives the same gallery, and a larger gallery holds every pair of a smaller one.
 */

/** Most pairs in the gallery unless told otherwise: a page a browser opens in a few seconds. */
export const DEFAULT_GALLERY = 5000;

/** A 32-bit hash of an id (FNV-1a, then a final mix), to rank pairs for the sample. */
export function idRank(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // FNV's low bits mix poorly for ids that differ only at the end (p00001, p00002, ...).
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

interface Ranked<T> {
  readonly rank: number;
  readonly id: string;
  readonly item: T;
}

const byRank = <T>(a: Ranked<T>, b: Ranked<T>) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The `size` entries of smallest rank seen so far, in at most 2 × size memory. */
class BottomK<T> {
  private entries: Ranked<T>[] = [];
  seen = 0;
  constructor(private readonly size: number) {}

  offer(entry: Ranked<T>): void {
    this.seen++;
    if (this.size === 0) return;
    this.entries.push(entry);
    // Sorting and cutting once every `size` entries costs O(log size) an entry.
    if (this.entries.length >= 2 * this.size) this.cut();
  }

  take(n: number): Ranked<T>[] {
    this.cut();
    return this.entries.slice(0, n);
  }

  private cut(): void {
    this.entries.sort(byRank);
    this.entries.length = Math.min(this.entries.length, this.size);
  }
}

export interface GalleryCounts {
  /** Pairs offered (the job's pairs). */
  readonly pairs: number;
  /** Pairs in the gallery. */
  readonly shown: number;
  /** Errors and wrong pairs offered, and how many of them are shown. */
  readonly flagged: number;
  readonly flaggedShown: number;
}

export class GallerySample<T> {
  private readonly flagged: BottomK<T>;
  private readonly others: BottomK<T>;

  constructor(private readonly size: number) {
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`a gallery size is a whole number, got ${size}`);
    this.flagged = new BottomK(size);
    this.others = new BottomK(size);
  }

  /** One pair; `flagged` for an error or a wrong pair. */
  offer(id: string, flagged: boolean, item: T): void {
    (flagged ? this.flagged : this.others).offer({ rank: idRank(id), id, item });
  }

  /** The gallery's pairs, in id order, and what they are of the job. */
  result(): { items: T[]; counts: GalleryCounts } {
    const others = Math.min(this.others.seen, this.size);
    // Flagged pairs take up to half, and whatever the others leave.
    const flagged = Math.min(this.flagged.seen, Math.max(Math.ceil(this.size / 2), this.size - others));
    const chosen = [...this.flagged.take(flagged), ...this.others.take(this.size - flagged)];
    chosen.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return {
      items: chosen.map((c) => c.item),
      counts: {
        pairs: this.flagged.seen + this.others.seen,
        shown: chosen.length,
        flagged: this.flagged.seen,
        flaggedShown: flagged,
      },
    };
  }
}

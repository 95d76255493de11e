/**
 * Bytes of input one worker process holds at once. A pair reserves its image's size when the
 * response's headers give it (before the body is read) and frees it once the image is decoded,
 * so a chunk of large TIFFs waits for room instead of downloading ~64 of them at once and
 * running the function out of memory.
 */
export class ByteBudget {
  private used = 0;
  private highest = 0;
  private readonly waiting: { readonly bytes: number; readonly admit: () => void }[] = [];

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new RangeError(`a byte budget must be positive, got ${capacity}`);
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** The most bytes reserved at once so far. */
  get peak(): number {
    return this.highest;
  }

  /**
   * Resolves once `bytes` fit, in the order asked (a large object is not passed over for ever by
   * small ones). An object larger than the whole budget is let in alone, when nothing is held.
   */
  acquire(bytes: number): Promise<void> {
    if (!this.waiting.length && this.fits(bytes)) {
      this.take(bytes);
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.waiting.push({
        bytes,
        admit: () => {
          this.take(bytes);
          resolve();
        },
      }),
    );
  }

  release(bytes: number): void {
    this.used -= bytes;
    while (this.waiting.length && this.fits(this.waiting[0].bytes)) this.waiting.shift()!.admit();
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.capacity;
  }

  private take(bytes: number): void {
    this.used += bytes;
    this.highest = Math.max(this.highest, this.used);
  }
}

/**
 * Input bytes one worker process may hold at once by default: room for five images at the
 * 25 MiB limit, and for hundreds of ordinary ones, in a function of 1,769 MB or more.
 */
export const DEFAULT_INPUT_BYTES_IN_FLIGHT = 128 * 1024 * 1024;

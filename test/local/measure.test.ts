/** The local pipeline's rate fitted through two job sizes (fusebatch estimate --measure, bench:calibrate). */
import { describe, expect, it } from 'vitest';
import { fitLocalRate } from '../../local/measure.js';

describe('fitLocalRate', () => {
  it('splits two runs into a fixed part a job and rates a pair, for the run and the upload alike', () => {
    // Runs made by 0.5 s + n / 200 (the run) and 0.25 s + n / 400 (the upload)
    const small = { pairs: 200, seconds: 0.5 + 200 / 200, uploadSeconds: 0.25 + 200 / 400 };
    const large = { pairs: 800, seconds: 0.5 + 800 / 200, uploadSeconds: 0.25 + 800 / 400 };
    const fit = fitLocalRate(small, large);
    expect(fit.pairsPerSecond).toBeCloseTo(200, 9);
    expect(fit.uploadPairsPerSecond).toBeCloseTo(400, 9);
    expect(fit.jobSeconds).toBeCloseTo(0.75, 9);
  });

  it('takes the larger run’s plain rates when the times do not grow with the size, or the sizes are one', () => {
    const noisy = fitLocalRate(
      { pairs: 200, seconds: 5, uploadSeconds: 2 },
      { pairs: 800, seconds: 4, uploadSeconds: 2 },
    );
    expect(noisy).toEqual({ pairsPerSecond: 200, uploadPairsPerSecond: 400, jobSeconds: 0 });
    const same = fitLocalRate({ pairs: 4, seconds: 1, uploadSeconds: 1 }, { pairs: 4, seconds: 2, uploadSeconds: 1 });
    expect(same).toEqual({ pairsPerSecond: 2, uploadPairsPerSecond: 4, jobSeconds: 0 });
  });

  it('never gives a negative fixed part', () => {
    const fit = fitLocalRate(
      { pairs: 100, seconds: 0.1, uploadSeconds: 0.1 },
      { pairs: 200, seconds: 1.2, uploadSeconds: 0.2 },
    );
    expect(fit.jobSeconds).toBe(0);
  });
});

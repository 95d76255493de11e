import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../lambdas/core/byte-budget.js';

const settled = () => new Promise((resolve) => setImmediate(resolve));

describe('Class: ByteBudget', () => {
  it('lets in what fits at once and holds the rest until bytes are released, in the order asked', async () => {
    // Prepare
    const budget = new ByteBudget(10);
    const admitted: string[] = [];
    const ask = (name: string, bytes: number) => budget.acquire(bytes).then(() => void admitted.push(name));
    // Act
    void ask('a', 6);
    void ask('b', 6); // does not fit beside a
    void ask('c', 1); // fits, but waits behind b: a large object is not passed over for ever
    await settled();
    const first = [...admitted];
    budget.release(6);
    await settled();
    // Assess
    expect(first).toEqual(['a']);
    expect(admitted).toEqual(['a', 'b', 'c']);
    expect(budget.inUse).toBe(7);
    expect(budget.peak).toBe(7);
  });

  it('lets an object larger than the whole budget in alone, once nothing is held', async () => {
    const budget = new ByteBudget(10);
    await budget.acquire(4);
    let admitted = false;
    void budget.acquire(25).then(() => {
      admitted = true;
    });
    await settled();
    expect(admitted).toBe(false);
    budget.release(4);
    await settled();
    expect(admitted).toBe(true);
    expect(budget.inUse).toBe(25);
  });

  it('refuses a budget that is not positive', () => {
    expect(() => new ByteBudget(0)).toThrow('a byte budget must be positive');
  });
});

import { describe, expect, it } from 'vitest';
import {
  chunkDone,
  leavesUnder,
  readProgress,
  recordChunkDone,
  type TreeJob,
  treeLevels,
} from '../../lambdas/core/completion.js';
import { MemoryStore } from '../helpers/memory-store.js';

/** A shuffled 0..n-1, the same every run. */
function shuffled(n: number, seed = 7): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let state = seed;
  for (let i = n - 1; i > 0; i--) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

describe('Function: treeLevels', () => {
  it('groups each level by the fanout up to one root', () => {
    expect(treeLevels(50, 4)).toEqual([50, 13, 4, 1]);
    expect(treeLevels(1, 1000)).toEqual([1]);
    expect(treeLevels(10_000, 1000)).toEqual([10_000, 10, 1]);
    expect(treeLevels(0, 1000)).toEqual([]);
    expect(() => treeLevels(5, 1)).toThrow(RangeError);
  });

  it('counts the chunks under a node, the last one short', () => {
    const job: TreeJob = { job: 'j', chunks: 50, fanout: 4 };
    expect(leavesUnder(job, 0, 49)).toBe(1);
    expect(leavesUnder(job, 1, 12)).toBe(2);
    expect(leavesUnder(job, 2, 3)).toBe(2);
    expect(leavesUnder(job, 3, 0)).toBe(50);
  });
});

describe('Function: recordChunkDone', () => {
  it('completes the job exactly when the last chunk is recorded, in any order, with every tally summed', async () => {
    // Prepare
    const store = new MemoryStore();
    const job: TreeJob = { job: 'j', chunks: 50, fanout: 4 };
    const order = shuffled(50);
    // Act
    const outcomes = [];
    for (const chunk of order)
      outcomes.push(await recordChunkDone(store, job, chunk, 0, { results: 3, errors: chunk % 2 }));
    // Assess
    expect(outcomes.map((o) => o.jobComplete)).toEqual(order.map((_, i) => i === order.length - 1));
    expect(outcomes.at(-1)?.tally).toMatchObject({ results: 150, errors: 25 });
    // No listing returned more than one folder's children.
    expect(store.keysListed).toBeLessThanOrEqual(store.calls.list * 4);
  });

  it('completes the job once when every chunk finishes at the same time', async () => {
    // Prepare
    const store = new MemoryStore();
    const job: TreeJob = { job: 'j', chunks: 64, fanout: 4 };
    // Act: every chunk's writes and listings interleave.
    const outcomes = await Promise.all(
      Array.from({ length: 64 }, (_, chunk) => recordChunkDone(store, job, chunk, 0, { results: 1, errors: 0 })),
    );
    // Assess: at least one saw the job complete, and the status agrees.
    expect(outcomes.some((o) => o.jobComplete)).toBe(true);
    expect(await readProgress(store, job)).toMatchObject({ complete: true, doneChunks: 64, results: 64 });
  });

  it('does constant work per chunk: LIST calls and keys listed per chunk stay flat as the job grows', async () => {
    const perChunk = [];
    for (const chunks of [100, 1000, 10_000]) {
      // Prepare
      const store = new MemoryStore();
      const job: TreeJob = { job: 'j', chunks, fanout: 1000 };
      // Act
      for (const chunk of shuffled(chunks)) await recordChunkDone(store, job, chunk, 0, { results: 1, errors: 0 });
      perChunk.push({ lists: store.listPages / chunks, requests: store.requests / chunks });
    }
    // Assess: 1 LIST and 1 PUT a chunk, and a little more for the 1/1000 that complete a group.
    for (const { lists, requests } of perChunk) {
      expect(lists).toBeLessThanOrEqual(1.02);
      expect(requests).toBeLessThanOrEqual(2.05);
    }
  });
});

describe('Function: readProgress', () => {
  it('lists only the incomplete nodes and names the chunks not done', async () => {
    // Prepare: 50 chunks, all but 7 and 33 done.
    const store = new MemoryStore();
    const job: TreeJob = { job: 'j', chunks: 50, fanout: 4 };
    for (const chunk of shuffled(50)) {
      if (chunk !== 7 && chunk !== 33) await recordChunkDone(store, job, chunk, 0, { results: 2, errors: 1 });
    }
    store.calls.list = 0;
    // Act
    const progress = await readProgress(store, job);
    // Assess: the root's folder, its children's, then for each missing chunk one folder a level down:
    // levels are 50, 13, 4, 1, so 1 + 1 + 2 + 2 listings.
    expect(progress).toMatchObject({ complete: false, doneChunks: 48, results: 96, errors: 48, missing: [7, 33] });
    expect(store.calls.list).toBe(6);
    expect(progress.lists).toBe(6);
  });

  it('answers a finished job with a single LIST', async () => {
    const store = new MemoryStore();
    const job: TreeJob = { job: 'j', chunks: 300, fanout: 4 };
    for (let chunk = 0; chunk < 300; chunk++) await recordChunkDone(store, job, chunk, 0, { results: 1, errors: 0 });
    store.calls.list = 0;
    const progress = await readProgress(store, job);
    expect(progress).toMatchObject({ complete: true, doneChunks: 300, results: 300 });
    expect(store.calls.list).toBe(1);
  });

  it('reads the tallies of a chunk run again by a redrive, not the first ones', async () => {
    // Prepare: a complete job, then chunk 5 run again (generation 1) with its error fixed.
    const store = new MemoryStore();
    const job: TreeJob = { job: 'j', chunks: 20, fanout: 4 };
    for (let chunk = 0; chunk < 20; chunk++) {
      await recordChunkDone(store, job, chunk, 0, { results: 1, errors: chunk === 5 ? 1 : 0 });
    }
    // Act
    const rerun = await recordChunkDone(store, job, 5, 1, { results: 2, errors: 0 });
    // Assess
    expect(rerun.jobComplete).toBe(true);
    expect(await readProgress(store, job)).toMatchObject({ complete: true, results: 21, errors: 0 });
    const full = await readProgress(store, job, { full: true });
    expect(full.leaves.get(5)).toMatchObject({ version: 1, results: 2, errors: 0 });
    expect(full).toMatchObject({ results: 21, errors: 0, doneChunks: 20 });
  });
});

describe('Function: chunkDone', () => {
  it('is true for a chunk done at this generation or a later one only', async () => {
    const store = new MemoryStore();
    const job: TreeJob = { job: 'j', chunks: 30, fanout: 4 };
    await recordChunkDone(store, job, 12, 1, { results: 1, errors: 0 });
    expect(await chunkDone(store, job, 12, 0)).toBe(true);
    expect(await chunkDone(store, job, 12, 1)).toBe(true);
    expect(await chunkDone(store, job, 12, 2)).toBe(false);
    expect(await chunkDone(store, job, 1, 0)).toBe(false);
    // Chunk 1's listing must not pick up chunks 12..19 sharing its prefix.
    await recordChunkDone(store, job, 13, 0, { results: 1, errors: 0 });
    expect(await chunkDone(store, job, 1, 0)).toBe(false);
  });
});

/**
 * The report's summary and gallery at any job size: histograms counted one value at a time in
 * fixed memory, and the gallery's sample of a job larger than the gallery.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { TruthFile } from '../../cli/adapters/truth-file.js';
import { ModelManifestSchema } from '../../lambdas/core/manifest.js';
import { GallerySample, idRank } from '../../lambdas/core/report/gallery.js';
import { EXACT_VALUES, type Histogram, HistogramTally, histogram } from '../../lambdas/core/report/histogram.js';
import { TruthFileError } from '../../lambdas/core/report/truth.js';

/** A seeded generator (mulberry32), so failures repeat. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const tally = (values: readonly number[], bounds?: ConstructorParameters<typeof HistogramTally>[1]) => {
  const t = new HistogramTally(20, bounds);
  for (const v of values) t.add(v);
  return t.result();
};

/** Counts `values` again into the histogram's own bins, edge by edge. */
function recount(h: Histogram, values: readonly number[]): number[] {
  const step = (h.max - h.min) / h.counts.length;
  const counts = new Array<number>(h.counts.length).fill(0);
  for (const v of values) {
    let i = 0;
    while (i < counts.length - 1 && v >= h.min + (i + 1) * step) i++;
    counts[i]++;
  }
  return counts;
}

describe('Report: histograms of a stream', () => {
  const next = random(7);
  const few = Array.from({ length: 500 }, () => 3 + 10 * next());

  it('is exactly histogram() with a fixed range, and with few values over their own range', () => {
    expect(tally(few, [0, 20])).toEqual(histogram(few, 20, [0, 20]));
    expect(tally([...few, Number.NaN])).toEqual(histogram(few, 20));
    expect(tally(few, { from: 0 })).toEqual(histogram(few, 20, [0, Math.max(...few)]));
    expect(tally([], { from: 0 })).toEqual(histogram([], 20, [0, 1]));
  });

  it.each([
    ['uniform', (r: () => number) => 1000 * r()],
    ['negative and skewed', (r: () => number) => -50 + r() ** 4 * 7],
    ['growing past both ends', (r: () => number, i: number) => (r() - 0.5) * (1 + i / 10)],
    ['constant, then one outlier', (_r: () => number, i: number) => (i === 9000 ? 1e6 : 0.3)],
  ])('counts many values (%s) exactly, in at most 20 bins that just cover them', (_name, draw) => {
    // Prepare
    const r = random(11);
    const values = Array.from({ length: 3 * EXACT_VALUES }, (_, i) => draw(r, i));
    // Act
    const h = tally(values);
    // Assess
    const [lo, hi] = [Math.min(...values), Math.max(...values)];
    expect(h.counts.length).toBeLessThanOrEqual(20);
    expect(h.counts.length).toBeGreaterThanOrEqual(10);
    expect(h.min).toBeLessThanOrEqual(lo);
    expect(h.max).toBeGreaterThan(hi);
    expect(h.max - h.min).toBeLessThanOrEqual(2 * (hi - lo) + 1e-9 * Math.abs(lo));
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    expect(h.counts).toEqual(recount(h, values));
  });

  it('keeps a lower edge when given one, past the values it keeps', () => {
    const r = random(3);
    const coverage = Array.from({ length: 2 * EXACT_VALUES }, () => 0.05 + 0.2 * r());
    const h = tally(coverage, { from: 0 });
    expect(h.min).toBe(0);
    expect(h.max).toBeGreaterThan(Math.max(...coverage));
    expect(h.max).toBeLessThan(2 * Math.max(...coverage));
    expect(h.counts).toEqual(recount(h, coverage));
  });
});

describe('Report: the gallery of a large job', () => {
  const ids = Array.from({ length: 10_000 }, (_, i) => `p${String(i).padStart(6, '0')}`);

  it('keeps every pair, in id order, when the job fits', () => {
    const sample = new GallerySample<string>(100);
    for (const id of [...ids.slice(0, 60)].reverse()) sample.offer(id, id.endsWith('7'), id);
    const { items, counts } = sample.result();
    expect(items).toEqual(ids.slice(0, 60));
    expect(counts).toEqual({ pairs: 60, shown: 60, flagged: 6, flaggedShown: 6 });
  });

  it('shows every flagged pair up to half the gallery, and a sample of the others that does not depend on order', () => {
    // Prepare: one pair in 50 is an error.
    const flagged = (id: string) => Number(id.slice(1)) % 50 === 0;
    const run = (order: string[], size: number) => {
      const sample = new GallerySample<string>(size);
      for (const id of order) sample.offer(id, flagged(id), id);
      return sample.result();
    };
    // Act
    const a = run(ids, 1000);
    const b = run([...ids].reverse(), 1000);
    const small = run(ids, 100);
    // Assess
    expect(a.items).toHaveLength(1000);
    expect(a.items).toEqual(b.items);
    expect(a.items).toEqual([...a.items].sort());
    expect(a.counts).toEqual({ pairs: 10_000, shown: 1000, flagged: 200, flaggedShown: 200 });
    expect(a.items.filter(flagged)).toHaveLength(200);
    expect(small.counts).toMatchObject({ shown: 100, flaggedShown: 50 });
    // A smaller gallery is part of a larger one.
    expect(small.items.every((id) => a.items.includes(id))).toBe(true);
    // The others are spread over the job, not its first pairs.
    const others = a.items.filter((id) => !flagged(id)).map((id) => Number(id.slice(1)));
    expect(others.filter((i) => i < 5000).length).toBeGreaterThan(300);
    expect(others.filter((i) => i >= 5000).length).toBeGreaterThan(300);
  });

  it('fills the gallery with flagged pairs when the others are few, and holds none at size 0', () => {
    const sample = new GallerySample<string>(10);
    for (const id of ids.slice(0, 30)) sample.offer(id, id !== 'p000003', id);
    expect(sample.result().counts).toEqual({ pairs: 30, shown: 10, flagged: 29, flaggedShown: 9 });
    const none = new GallerySample<string>(0);
    none.offer('a', true, 'a');
    expect(none.result()).toEqual({ items: [], counts: { pairs: 1, shown: 0, flagged: 1, flaggedShown: 0 } });
  });

  it('ranks ids by a hash that spreads ids differing only at the end', () => {
    const ranks = ids.slice(0, 1000).map(idRank);
    expect(new Set(ranks).size).toBe(1000);
    expect(ranks.filter((r) => r < 2 ** 31).length).toBeGreaterThan(400);
    expect(ranks.filter((r) => r < 2 ** 31).length).toBeLessThan(600);
  });
});

describe('Report: the ground truth, indexed by id', () => {
  const manifest = ModelManifestSchema.parse(
    JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../models/reference/model.json'), 'utf8')),
  );

  it('reads each pair’s line back from where it lies, multi-byte text and a last line without newline included', async () => {
    // Prepare
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-truth-'));
    const file = path.join(dir, 'truth.jsonl');
    const lines = [
      '{"id":"étoile ★","shape":"star","note":"ünïcødé"}',
      '',
      '{"id":"b","shape":"circle"}\r',
      ...Array.from({ length: 3000 }, (_, i) => `{"id":"p${i}","shape":"${i % 2 ? 'star' : 'circle'}"}`),
      '{"id":"last","shape":"star"}',
    ];
    await writeFile(file, lines.join('\n'));
    // Act
    const truth = await TruthFile.open(manifest, file);
    try {
      // Assess
      expect(truth.size).toBe(3003);
      expect(await truth.get('étoile ★')).toEqual({ id: 'étoile ★', shape: 'star', note: 'ünïcødé' });
      expect(await truth.get('b')).toEqual({ id: 'b', shape: 'circle' });
      expect(await truth.get('p2999')).toEqual({ id: 'p2999', shape: 'star' });
      expect(await truth.get('last')).toEqual({ id: 'last', shape: 'star' });
      expect(await truth.get('missing')).toBeUndefined();
    } finally {
      await truth.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reports every bad line, with its number, before any is used', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-truth-'));
    const file = path.join(dir, 'truth.jsonl');
    await writeFile(file, '{"id":"a","shape":3}\nnot json\n{"id":"c","shape":"star"}\n');
    const error = await TruthFile.open(manifest, file).catch((e: unknown) => e);
    await rm(dir, { recursive: true, force: true });
    expect(error).toBeInstanceOf(TruthFileError);
    expect((error as Error).message).toMatch(/truth\.jsonl:1: shape: /);
    expect((error as Error).message).toMatch(/truth\.jsonl:2: not JSON/);
  });
});

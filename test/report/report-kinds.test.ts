/**
 * Every task kind through the real pipeline (kinds, dense PNGs in the embedded S3 server), the
 * report with ground truth for each kind, and the page in headless Chromium: the boxes and the
 * overlays are drawn (counted in the DOM), each legend shows its colours, and each kind has its
 * metric. The model is scripted (see helpers/all-kinds.ts); nothing else is.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../cli/report.js';
import { encodeDensePng, SharpImageDecoder } from '../../lambdas/adapters/image-codec.js';
import { objectMaskStore } from '../../lambdas/adapters/object-mask-store.js';
import { jobKeys } from '../../lambdas/core/keys.js';
import { type PairSource, runPipeline } from '../../lambdas/core/pipeline.js';
import type { OutputRecord } from '../../lambdas/core/records.js';
import { allKindsManifest, allKindsModel } from '../helpers/all-kinds.js';
import { launchChromium } from '../helpers/chromium.js';
import { type EmbeddedS3, startEmbeddedS3 } from '../helpers/fresh-process.js';
import { parityPairs } from '../helpers/runtime.js';

const artifacts = path.resolve(import.meta.dirname, '../../test-artifacts');
const JOB = 'kinds';
const PAIRS = 3;

describe('Report: every task kind, drawn in headless Chromium', () => {
  let dir: string;
  let s3: EmbeddedS3;
  let browser: Browser;
  let page: Page;
  let records: OutputRecord[];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-kinds-'));
    s3 = await startEmbeddedS3();
    // Prepare: three parity images (128×128) uploaded, run through the pipeline into one part.
    const pairs: PairSource[] = [];
    for (let i = 0; i < PAIRS; i++) {
      const bytes = await readFile(path.join(parityPairs, `parity-0000${i}.png`));
      const key = `uploads/${JOB}/p${i}.png`;
      await s3.store.put(key, bytes, 'image/png');
      pairs.push({ id: `p${i}`, image: key, readImage: async () => bytes, readText: async () => 'a cat' });
    }
    records = [];
    const masks = objectMaskStore(s3.store, (id, task) => jobKeys.mask(JOB, id, task));
    // PNG objects for every dense kind, so that the report reads them from the bucket here
    // (report.test.ts reads masks and class maps inline, the default).
    const options = { model: allKindsModel(), images: new SharpImageDecoder(), masks, maskFormat: 'png' as const };
    for await (const r of runPipeline(pairs, options)) {
      records.push(r);
    }
    await s3.store.put(
      jobKeys.part(JOB, 0),
      new TextEncoder().encode(records.map((r) => JSON.stringify(r)).join('\n')),
      'application/x-ndjson',
    );
    // Ground truth for every kind: what the scripted model says, except that p1's cat is a dog.
    const size = 128;
    const quarter = (inside: number, outside: number) =>
      Uint8Array.from({ length: size * size }, (_, i) => (i % size < 64 && i / size < 64 ? inside : outside));
    await mkdir(path.join(dir, 'truth'));
    await writeFile(
      path.join(dir, 'truth/mask.png'),
      encodeDensePng({ kind: 'mask', width: size, height: size, data: quarter(255, 0) }),
    );
    await writeFile(
      path.join(dir, 'truth/scene.png'),
      encodeDensePng({ kind: 'classes', width: size, height: size, data: quarter(1, 0), palette: [] }),
    );
    await writeFile(
      path.join(dir, 'truth/heat.png'),
      encodeDensePng({ kind: 'values', width: size, height: size, data: new Uint16Array(size * size).fill(40000) }),
    );
    const truth = records.map((r, i) => ({
      id: r.id,
      kind: 'photo',
      tags: ['red'],
      match: 1,
      count: 1,
      mask: 'truth/mask.png',
      objects: [{ label: i === 1 ? 'dog' : 'cat', box: { x: 0, y: 0, width: 64, height: 64 } }],
      scene: 'truth/scene.png',
      heat: 'truth/heat.png',
      embedding: [0.6, 0.8, 0, 0],
    }));
    await writeFile(path.join(dir, 'truth.jsonl'), truth.map((t) => JSON.stringify(t)).join('\n'));
    // Act
    const out = path.join(dir, 'kinds.html');
    await writeReport(s3.store, { job: JOB, out, manifest: allKindsManifest, truth: path.join(dir, 'truth.jsonl') });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`file://${out}`);
  });
  afterAll(async () => {
    await browser?.close();
    await s3?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('records every kind for every pair, with its dense outputs stored', async () => {
    expect(records).toHaveLength(PAIRS);
    for (const r of records) {
      expect(r.status).toBe('ok');
      if (r.status !== 'ok') continue;
      expect(Object.keys(r.tasks)).toEqual(allKindsManifest.tasks.map((t) => t.name));
      expect(r.tasks.objects).toEqual([{ label: 'cat', score: 0.982014, box: { x: 0, y: 0, width: 64, height: 64 } }]);
      expect(r.tasks.embedding).toEqual([0.6, 0.8, 0, 0]);
    }
    const stored = (await s3.store.list(jobKeys.masksPrefix(JOB))).map((o) => o.key.split('/').pop());
    expect(stored.sort()).toEqual(
      ['heat', 'mask', 'scene'].flatMap((t) => records.map((r) => `${r.id}.${t}.png`)).sort(),
    );
  });

  it('draws each pair’s boxes and its mask, class map and heat map over the thumbnail', async () => {
    expect(await page.locator('article.card').count()).toBe(PAIRS);
    expect(await page.locator('svg.boxes[data-task="objects"] rect').count()).toBe(PAIRS);
    expect(await page.locator('svg.boxes text').first().textContent()).toBe('cat 0.98');
    for (const task of ['mask', 'scene', 'heat']) {
      expect(await page.locator(`img.mask[data-task="${task}"]`).count(), task).toBe(PAIRS);
    }
    // The box covers the thumbnail's top-left quarter: the SVG's viewBox is the original image.
    const box = await page.locator('svg.boxes rect').first().boundingBox();
    const frame = await page.locator('.frame').first().boundingBox();
    expect(box!.width / frame!.width).toBeCloseTo(0.5, 1);
    await mkdir(artifacts, { recursive: true });
    await page
      .locator('article.card')
      .first()
      .screenshot({ path: path.join(artifacts, 'report-kinds-card.png') });
  });

  it('lists each overlay in the legend, a class map with one colour per drawn class', async () => {
    const legend = (task: string) => page.locator(`.legend[data-task="${task}"] i`).count();
    expect(await legend('mask')).toBe(1);
    expect(await legend('objects')).toBe(1);
    expect(await legend('scene')).toBe(2); // cat and dog; the sky is not drawn
    expect(await legend('heat')).toBe(2); // low and high
  });

  it('scores every kind against the truth, marking the pair whose box has the wrong label', async () => {
    // Act
    const rows = await page
      .locator('table.metrics tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    // Assess
    expect(rows.map((r) => [r[0], r[2]])).toEqual([
      ['kind', 'accuracy'],
      ['tags', 'micro-F1'],
      ['match', 'accuracy'],
      ['count', 'accuracy'],
      ['mask', 'mean IoU'],
      ['objects', 'mAP@0.5'],
      ['scene', 'mean IoU over classes'],
      ['heat', 'mean absolute error'],
      ['embedding', 'mean cosine similarity'],
    ]);
    expect(await page.locator('[data-tile="wrong"] b').textContent()).toBe('1');
    expect(await page.locator('article.card[data-id="p1"] li[data-task="objects"] .expected').textContent()).toBe(
      'expected dog',
    );
  });
});

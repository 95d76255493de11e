/**
 * The HTML report of a job run by the real pipeline (embedded S3 server, the reference model),
 * opened in headless Chromium: what it shows is checked against the records and the ground
 * truth directly, and a mask is checked to lie over its object, pixel by pixel.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportError, writeReport } from '../../cli/report.js';
import { decodeDensePng, decodeMaskPng, readTruthImage } from '../../lambdas/adapters/image-codec.js';
import { decodeRle } from '../../lambdas/core/coco-rle.js';
import { Evaluation } from '../../lambdas/core/evaluation.js';
import type { ClassificationResult } from '../../lambdas/core/kinds/classification.js';
import type { BinaryMask } from '../../lambdas/core/kinds/index.js';
import type { MultilabelResult } from '../../lambdas/core/kinds/multilabel.js';
import type { RegressionResult } from '../../lambdas/core/kinds/regression.js';
import type { ScoreResult } from '../../lambdas/core/kinds/score.js';
import type { SegmentationResult } from '../../lambdas/core/kinds/segmentation.js';
import type { ResultRecord } from '../../lambdas/core/records.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/local-pipeline.js';
import { launchChromium } from '../helpers/chromium.js';
import { type EvalJob, pipelineOptions, runEvalJob } from '../helpers/eval-job.js';
import { evalDir } from '../helpers/runtime.js';

const root = path.resolve(import.meta.dirname, '../..');
const artifacts = path.join(root, 'test-artifacts');
const truthFile = path.join(evalDir, 'truth.jsonl');
const JOB = 'report-job';
const PAIRS = 56; // two pages of 50, with the job's two error records

const isIn = (mask: BinaryMask, i: number) => mask.data[i] > 127;
function iou(a: BinaryMask, b: BinaryMask): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.data.length; i++) {
    if (isIn(a, i) && isIn(b, i)) inter++;
    if (isIn(a, i) || isIn(b, i)) union++;
  }
  return union ? inter / union : 1;
}

describe('Report: a job as one HTML file, in headless Chromium', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  let job: EvalJob;
  let file: string;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];
  const requests: string[] = [];
  /** Ids of the pairs that some task gets wrong, by the rules of the evaluation. */
  const wrong = new Set<string>();
  /** A pair whose predicted mask matches its true mask well, and that mask. */
  let known: { id: string; truth: BinaryMask };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-report-'));
    pipeline = await startLocalPipeline(pipelineOptions(path.join(dir, 's3')));
    job = await runEvalJob(pipeline, JOB, PAIRS);
    file = path.join(dir, 'report.html');
    await writeReport(pipeline.store, { job: JOB, out: file, manifest: pipeline.model.manifest, truth: truthFile });

    // The expected marks, from the records and the truth directly.
    for (const r of job.records.filter((r): r is ResultRecord => r.status === 'ok')) {
      const t = job.truth.get(r.id)!;
      const mask = r.tasks.mask as SegmentationResult;
      // The pipeline's default keeps masks inline (COCO RLE); a PNG key is read the same way.
      const predicted = mask.rle
        ? decodeRle(mask.rle)
        : mask.mask
          ? await decodeMaskPng(await pipeline.store.get(mask.mask))
          : null;
      const target = await decodeMaskPng(path.join(evalDir, String(t.mask)));
      const empty = !target.data.some((v) => v > 127);
      const maskIou = predicted ? iou(predicted, target) : empty ? 1 : 0;
      const colors = (r.tasks.colors as MultilabelResult).labels;
      const right = [
        (r.tasks.shape as ClassificationResult).label === t.shape,
        [...colors].sort().join() === [...(t.colors as string[])].sort().join(),
        Math.round((r.tasks.count as RegressionResult).value) === t.count,
        Number((r.tasks.match as ScoreResult).score >= 0.5) === t.match,
        empty ? mask.coverage === 0 : maskIou >= 0.5,
      ];
      if (right.includes(false)) wrong.add(r.id);
      if (!known && !empty && maskIou > 0.85) known = { id: r.id, truth: target };
    }

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    // Anything but the file itself would be a fetch at view time.
    await page.route('**/*', (route) => {
      requests.push(route.request().url());
      return route.request().url() === `file://${file}` ? route.continue() : route.abort();
    });
    await page.goto(`file://${file}`);
  });
  afterAll(async () => {
    await browser?.close();
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const tile = (name: string) => page.locator(`[data-tile="${name}"] b`).textContent();
  const cards = () => page.locator('article.card');

  it('renders with no console error, fetching nothing but itself', async () => {
    await expect.poll(() => cards().count()).toBe(50);
    expect(problems).toEqual([]);
    expect(requests).toEqual([`file://${file}`]);
  });

  it('counts the pairs, results, errors and wrong pairs that the records hold', async () => {
    expect(await tile('pairs')).toBe(String(PAIRS + 2));
    expect(await tile('results')).toBe(String(PAIRS));
    expect(await tile('errors')).toBe('2');
    expect(await tile('wrong')).toBe(String(wrong.size));
  });

  it('shows the errors by code and the per-task metrics of the evaluation', async () => {
    // Prepare: the masks and class maps are in the records (RLE); no stored picture may be read.
    expect((await pipeline.store.list(`results/jobs/${JOB}/_masks/`)).length).toBe(0);
    const evaluation = new Evaluation(
      pipeline.model.manifest,
      (ref, form) => readTruthImage(path.join(evalDir, ref), form),
      async (_id, _task, key) => (key ? decodeDensePng(await pipeline.store.get(key)) : null),
    );
    for (const r of job.records) if (job.truth.has(r.id)) await evaluation.add(r, job.truth.get(r.id)!);
    // Act
    const rows = await page
      .locator('table.metrics tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const codes = await page.locator('table.errors tbody tr td:first-child').allTextContents();
    // Assess
    expect(rows.map((r) => [r[0], r[3]])).toEqual(
      evaluation.summary().map((m) => [m.task, `${(100 * m.value).toFixed(2)} %`]),
    );
    expect(codes.sort()).toEqual(job.records.flatMap((r) => (r.status === 'error' ? [r.error.code] : [])).sort());
  });

  it('draws the errors chart and every task’s charts', async () => {
    // errors; shape: labels, top score; colors: labels, scores; count: value; match: yes/no, score; mask: coverage
    expect(await page.locator('figure.chart').count()).toBe(12);
    expect(await page.locator('figure.chart svg rect').count()).toBeGreaterThan(50);
    const shapeBars = await page
      .locator('figure.chart[data-task="shape"][data-kind="bars"] rect title')
      .allTextContents();
    const counts = new Map<string, number>();
    for (const r of job.records) {
      if (r.status === 'ok') {
        const label = (r.tasks.shape as ClassificationResult).label;
        counts.set(label, (counts.get(label) ?? 0) + 1);
      }
    }
    for (const bar of shapeBars) {
      const [label, n] = bar.split(': ');
      expect(Number(n)).toBe(counts.get(label) ?? 0);
    }
  });

  it('pages through the pairs, 50 at a time', async () => {
    expect(await page.locator('#page-info').textContent()).toBe(`1–50 of ${PAIRS + 2} · page 1 of 2`);
    await page.click('#next');
    expect(await cards().count()).toBe(PAIRS + 2 - 50);
    expect(await page.locator('#page-info').textContent()).toBe(`51–${PAIRS + 2} of ${PAIRS + 2} · page 2 of 2`);
    expect(await page.locator('#next').isDisabled()).toBe(true);
    await page.keyboard.press('ArrowLeft');
    expect(await cards().count()).toBe(50);
  });

  it('shows error records with their code and message', async () => {
    await page.selectOption('#filter', 'error');
    const shown = await page
      .locator('article.card.error')
      .evaluateAll((els) =>
        els.map((el) => ({ id: el.querySelector('h3')?.textContent, error: el.querySelector('.error')?.textContent })),
      );
    const expected = job.records.flatMap((r) =>
      r.status === 'error' ? [{ id: r.id, error: `${r.error.code} ${r.error.message}` }] : [],
    );
    expect(shown).toEqual(expected.sort((a, b) => (a.id < b.id ? -1 : 1)));
    await page.selectOption('#filter', 'all');
  });

  it('marks wrong pairs, each with a wrong task and what was expected', async () => {
    await page.selectOption('#filter', 'wrong');
    const ids = await page.locator('article.card h3').allTextContents();
    expect(new Set(ids)).toEqual(wrong);
    for (const card of await cards().all()) {
      expect(await card.locator('li.wrongtask').count()).toBeGreaterThan(0);
      expect(await card.locator('.expected').count()).toBeGreaterThan(0);
    }
    await page.selectOption('#filter', 'all');
  });

  it('lays each mask over its object (a pixel check on a known pair) and saves a screenshot', async () => {
    // Prepare
    expect(known).toBeDefined();
    await page.fill('#search', known.id);
    expect(await cards().count()).toBe(1);
    const frame = page.locator(`article.card[data-id="${known.id}"] .frame`);
    // Only the mask task's overlay: the class map and the boxes are drawn too, but not checked here.
    const others = await page.addStyleTag({ content: '.frame .mask:not([data-task="mask"]) { display: none }' });
    // Act
    const withMasks = await frame.screenshot();
    await page.uncheck('#show-masks');
    const without = await frame.screenshot();
    await page.check('#show-masks');
    // Assess: the pixels the overlay changes are the object's, as the true mask says.
    const a = await sharp(withMasks).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const b = await sharp(without).removeAlpha().raw().toBuffer();
    const { width, height } = a.info;
    const changed = new Uint8Array(width * height);
    for (let i = 0; i < width * height; i++) {
      const d =
        Math.abs(a.data[3 * i] - b[3 * i]) +
        Math.abs(a.data[3 * i + 1] - b[3 * i + 1]) +
        Math.abs(a.data[3 * i + 2] - b[3 * i + 2]);
      changed[i] = d > 24 ? 255 : 0;
    }
    const truth = await sharp(Buffer.from(known.truth.data), {
      raw: { width: known.truth.width, height: known.truth.height, channels: 1 },
    })
      .resize(width, height, { fit: 'fill', kernel: 'nearest' })
      .extractChannel(0)
      .raw()
      .toBuffer();
    const overlap = iou({ width, height, data: changed }, { width, height, data: new Uint8Array(truth) });
    expect(overlap).toBeGreaterThan(0.85);
    await others.evaluate((style) => style.remove());

    await page.fill('#search', '');
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'report.png'), fullPage: true });
    expect(problems).toEqual([]);
  });

  it('with --gallery smaller than the job: all errors, a sample of the rest, the summary of every pair', async () => {
    // Prepare
    const out = path.join(dir, 'sampled.html');
    const full = await page.locator('#summary').innerHTML();
    // Act
    const report = await writeReport(pipeline.store, { job: JOB, out, manifest: pipeline.model.manifest, gallery: 10 });
    const sampled = await browser.newPage();
    await sampled.goto(`file://${out}`);
    // Assess
    expect(report).toMatchObject({ pairs: PAIRS + 2, shown: 10, errors: 2 });
    expect(await sampled.locator('article.card').count()).toBe(10);
    expect(await sampled.locator('article.card.error').count()).toBe(2);
    expect(await sampled.locator('#gallery-note').textContent()).toMatch(/^10 of 58 pairs: 2 of the 2 errors, /);
    expect(await sampled.locator('[data-tile="pairs"] b').textContent()).toBe(String(PAIRS + 2));
    // The same charts as the full report's (which has the truth's metrics and marks besides).
    const charts = (html: string) => html.match(/<figure class="chart".*?<\/figure>/gs);
    expect(charts(await sampled.locator('#summary').innerHTML())).toEqual(charts(full));
    const ids = await sampled.locator('article.card h3').allTextContents();
    expect(ids).toEqual([...ids].sort());
    await sampled.close();
  });

  it('refuses a job with no records, saying so', async () => {
    await expect(
      writeReport(pipeline.store, {
        job: 'no-such-job',
        out: path.join(dir, 'none.html'),
        manifest: pipeline.model.manifest,
      }),
    ).rejects.toThrow(ReportError);
  });

  it('is written by `fusebatch report` from the command line', async () => {
    // Act
    const out = path.join(dir, 'cli-report.html');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [path.join(root, 'bin/fusebatch.mjs'), 'report', JOB, '--out', out, '--endpoint', pipeline.endpoint],
      { cwd: root, timeout: 120_000 },
    );
    // Assess
    expect(stdout).toMatch(
      new RegExp(
        `^${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: ${PAIRS + 2} pairs, 2 errors, [\\d.]+ MB, [\\d.]+ s$`,
        'm',
      ),
    );
    const html = await readFile(out, 'utf8');
    expect(html).not.toContain('data-tile="wrong"'); // no truth, no marks
    expect(html.match(/"id":"test-\d+"/g)).toHaveLength(PAIRS);
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DenseImage, kindOf, type TruthIO } from '../../lambdas/core/kinds/index.js';
import { maskIou } from '../../lambdas/core/kinds/segmentation.js';
import { ModelManifestSchema, type Task, TaskSchema } from '../../lambdas/core/manifest.js';
import type { OutputRecord, ResultRecord } from '../../lambdas/core/records.js';
import { renderChart } from '../../lambdas/core/report/charts.js';
import { histogram } from '../../lambdas/core/report/histogram.js';
import { renderReport } from '../../lambdas/core/report/html.js';
import { escapeHtml, scriptJson } from '../../lambdas/core/report/html-escape.js';
import { reportPair, summarize, taskCharts } from '../../lambdas/core/report/report-model.js';
import { parseTruth, TruthFileError } from '../../lambdas/core/report/truth.js';

const manifest = ModelManifestSchema.parse(
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../models/reference/model.json'), 'utf8')),
);
const task = (name: string) => manifest.tasks.find((t) => t.name === name) as Task;
const identity = { name: 'm', version: '1', sha256: 'a'.repeat(64) };

const result = (id: string, shape: string, score: number, over: Partial<ResultRecord['tasks']> = {}): ResultRecord => ({
  id,
  inputs: { image: `${id}.png`, text: `a ${shape}` },
  model: identity,
  engine: 'cpu',
  status: 'ok',
  tasks: {
    shape: { label: shape, score, top: [{ label: shape, score }] },
    colors: { labels: ['red'], scores: { red: 0.9, green: 0.2 } },
    count: { value: 1.4 },
    match: { score: 0.8, positive: true },
    mask: { mask: `${id}.mask.png`, width: 4, height: 4, coverage: 0.25, box: { x: 0, y: 0, width: 2, height: 2 } },
    ...over,
  },
});
const failure = (id: string, code: 'IMAGE_TRUNCATED' | 'TEXT_EMPTY'): OutputRecord => ({
  id,
  inputs: { image: `${id}.png`, text: null },
  model: identity,
  engine: 'cpu',
  status: 'error',
  error: { code, message: `${code} </script><b>` },
});

describe('Report: histograms', () => {
  it('counts values in equal bins, the last one closed, outliers in the end bins', () => {
    expect(histogram([0, 0.24, 0.25, 0.5, 0.99, 1, 1.5, -2], 4, [0, 1])).toEqual({
      min: 0,
      max: 1,
      counts: [3, 1, 1, 3],
    });
  });

  it('takes the values’ own range, widens a single value and skips non-finite ones', () => {
    expect(histogram([2, 4, 6, Number.NaN], 2)).toEqual({ min: 2, max: 6, counts: [1, 2] });
    expect(histogram([3, 3], 2)).toEqual({ min: 2.5, max: 3.5, counts: [0, 2] });
    expect(histogram([], 3)).toEqual({ min: 0, max: 1, counts: [0, 0, 0] });
    expect(() => histogram([1], 0)).toThrow(RangeError);
  });
});

describe('Report: predictions in words, and whether they are right', () => {
  it.each([
    ['shape', 'circle 0.97', 'circle 0.97'],
    ['colors', 'red', 'red 0.90 · green 0.20'],
    ['count', '1.40', undefined],
    ['match', '0.80 yes', undefined],
    ['mask', 'coverage 25.0 %', 'box 2×2 at (0, 0)'],
  ])('describes %s as %s', (name, text, detail) => {
    const r = result('p', 'circle', 0.97);
    const t = task(name);
    expect(kindOf(t).describe(t, r.tasks[name] as never)).toEqual(detail ? { text, detail } : { text });
  });

  // 2×2 masks: the target's first `t` pixels, the prediction's first `p` (IoU = min/max).
  const mask = (on: number): DenseImage => ({
    kind: 'mask',
    width: 2,
    height: 2,
    data: Uint8Array.from([0, 1, 2, 3], (i) => (i < on ? 255 : 0)),
  });
  const io = (target: number, predicted: number): TruthIO => ({
    loadTruthImage: async () => mask(target),
    loadPredicted: async () => mask(predicted),
  });

  it.each([
    ['shape', 'circle', 0, 0, true],
    ['shape', 'star', 0, 0, false],
    ['colors', ['red'], 0, 0, true],
    ['colors', ['red', 'green'], 0, 0, false],
    ['count', 1, 0, 0, true],
    ['count', 2, 0, 0, false],
    ['match', 1, 0, 0, true],
    ['match', 0, 0, 0, false],
    ['mask', 'm.png', 2, 1, true], // IoU 0.5
    ['mask', 'm.png', 3, 1, false], // IoU 0.33
    ['mask', 'm.png', 0, 1, false], // an empty target and a non-empty prediction
  ])('scores %s against %j (target %i px, prediction %i px): %s', async (name, expected, target, predicted, right) => {
    const r = result('p', 'circle', 0.97);
    const t = task(name);
    expect((await kindOf(t).score(t, r.tasks[name] as never, expected, io(target, predicted))).right).toBe(right);
  });

  it('scores an empty predicted mask right on an empty target', async () => {
    const empty = { mask: null, width: 2, height: 2, coverage: 0, box: null };
    const t = task('mask');
    expect((await kindOf(t).score(t, empty as never, 'm.png', io(0, 0))).right).toBe(true);
  });

  it('measures mask IoU over the target’s pixels', () => {
    const mask = (bits: number[]) => ({ width: 2, height: 2, data: Uint8Array.from(bits, (b) => b * 255) });
    expect(maskIou(mask([1, 1, 0, 0]), mask([1, 0, 0, 0]))).toBe(0.5);
    expect(maskIou(null, mask([1, 0, 0, 0]))).toBe(0);
    expect(maskIou(mask([0, 0, 0, 0]), mask([0, 0, 0, 0]))).toBe(1);
  });

  it('marks each task of a pair and the pair as wrong when one task is', () => {
    // Act
    const pair = reportPair(manifest, result('p', 'circle', 0.97), {
      truth: { id: 'p', shape: 'star', colors: ['red'], count: null, match: 1, mask: 'm.png' },
      scores: new Map([
        ['shape', { right: false }],
        ['colors', { right: true }],
        ['match', { right: true }],
        ['mask', { right: true, note: 'IoU 0.80' }],
      ]),
    });
    // Assess
    expect(pair.wrong).toBe(true);
    expect(pair.tasks).toEqual([
      { task: 'shape', text: 'circle 0.97', detail: 'circle 0.97', ok: false, expected: 'star' },
      { task: 'colors', text: 'red', detail: 'red 0.90 · green 0.20', ok: true },
      { task: 'count', text: '1.40' },
      { task: 'match', text: '0.80 yes', ok: true },
      { task: 'mask', text: 'coverage 25.0 %', detail: 'box 2×2 at (0, 0) · IoU 0.80', ok: true },
    ]);
  });

  it('keeps an error record’s code and message and no tasks', () => {
    expect(reportPair(manifest, failure('e', 'TEXT_EMPTY'))).toEqual({
      id: 'e',
      text: null,
      status: 'error',
      error: { code: 'TEXT_EMPTY', message: 'TEXT_EMPTY </script><b>' },
    });
  });
});

describe('Report: summary and charts', () => {
  const records = [
    result('a', 'circle', 0.95),
    result('b', 'circle', 0.55),
    result('c', 'star', 0.85, { colors: { labels: [], scores: { red: 0.1, green: 0.3 } } }),
    failure('d', 'TEXT_EMPTY'),
    failure('e', 'IMAGE_TRUNCATED'),
    failure('f', 'TEXT_EMPTY'),
  ];

  it('counts pairs and errors by code, most frequent first', () => {
    const summary = summarize(manifest, records);
    expect(summary).toMatchObject({
      pairs: 6,
      ok: 3,
      errors: 3,
      errorsByCode: [
        { code: 'TEXT_EMPTY', count: 2 },
        { code: 'IMAGE_TRUNCATED', count: 1 },
      ],
    });
  });

  it('draws an errors chart, then by kind: labels and top score, labels and scores, value, yes/no and score, coverage, boxes by label and their scores, classes', () => {
    // Act
    const { charts } = summarize(manifest, records);
    // Assess
    expect(charts.map((c) => `${c.task}:${c.kind}`)).toEqual([
      'null:bars',
      'shape:bars',
      'shape:histogram',
      'colors:bars',
      'colors:histogram',
      'count:histogram',
      'match:bars',
      'match:histogram',
      'mask:histogram',
      'objects:bars',
      'objects:histogram',
      'scene:bars',
    ]);
    const labels = charts[1].kind === 'bars' ? charts[1].bars : [];
    expect(Object.fromEntries(labels.map((b) => [b.label, b.count]))).toMatchObject({ circle: 2, star: 1, square: 0 });
    const colors = charts[3].kind === 'bars' ? charts[3].bars : [];
    expect(colors.find((b) => b.label === 'red')?.count).toBe(2);
    const top = charts[2].kind === 'histogram' ? charts[2].histogram : null;
    expect(top?.counts.reduce((a, b) => a + b, 0)).toBe(3);
    expect(top?.counts[19]).toBe(1); // 0.95 in [0.95, 1]
  });

  it('draws no chart for a score task without threshold but its histogram', () => {
    const score = TaskSchema.parse({ name: 'q', kind: 'score', output: 'o' });
    expect(taskCharts(score, [{ score: 0.2 }] as never).map((c) => c.kind)).toEqual(['histogram']);
  });

  it('renders bars and histograms as SVG with exact counts in titles, text escaped', () => {
    const bars = renderChart({ kind: 'bars', task: 't', title: 'a <b>', bars: [{ label: '<x>', count: 3 }] });
    expect(bars).toContain('<figcaption>a &lt;b&gt;</figcaption>');
    expect(bars).toContain('<title>&lt;x&gt;: 3</title>');
    const hist = renderChart({
      kind: 'histogram',
      task: 't',
      title: 'h',
      axis: 'score',
      histogram: histogram([0.1, 0.9], 2, [0, 1]),
    });
    expect(hist.match(/<rect /g)).toHaveLength(2);
    expect(hist).toContain('<title>0.50–1: 1</title>');
  });
});

describe('Report: ground truth files', () => {
  it('reads lines by id and ignores fields that are not tasks', () => {
    const truth = parseTruth(
      manifest,
      '{"id":"a","shape":"star","world":{"x":1}}\n\n{"id":"b","match":0}\n',
      't.jsonl',
    );
    expect([...truth.keys()]).toEqual(['a', 'b']);
    expect(truth.get('a')?.shape).toBe('star');
  });

  it('reports every bad line with its number and field', () => {
    const text = '{"id":"a","shape":3}\nnot json\n{"shape":"star"}\n{"id":"d","colors":"red","count":"2"}\n';
    expect(() => parseTruth(manifest, text, 't.jsonl')).toThrow(TruthFileError);
    try {
      parseTruth(manifest, text, 't.jsonl');
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/t\.jsonl:1: shape: /);
      expect(message).toMatch(/t\.jsonl:2: not JSON/);
      expect(message).toMatch(/t\.jsonl:3: id: /);
      expect(message).toMatch(/t\.jsonl:4: colors: /);
      expect(message).toMatch(/t\.jsonl:4: count: /);
    }
  });
});

describe('Report: the HTML document', () => {
  it('embeds the pairs as JSON that no caption can break out of, and nothing from the network', () => {
    // Prepare
    const records = [result('a', 'circle', 0.9), failure('</script><script>alert(1)</script>', 'TEXT_EMPTY')];
    const pairs = records.map((r) => reportPair(manifest, r));
    // Act
    const html = renderReport(
      {
        job: 'j<1>',
        models: ['m 1'],
        generatedAt: 'now',
        summary: summarize(manifest, records),
        pairs,
        overlayTasks: [{ task: 'mask', swatches: [{ color: 'rgb(1 2 3)' }] }],
      },
      { css: 'body{}', js: 'void 0;' },
    );
    // Assess
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the data's and the script's own
    const json = html.match(/<script type="application\/json" id="report-data">(.*?)<\/script>/s)![1];
    expect(JSON.parse(json)).toEqual({ pageSize: 50, truth: false, pairs });
    expect(html).toContain('<title>fusebatch report: j&lt;1&gt;</title>');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(html.match(/<figure class="chart"/g)).toHaveLength(12);
    expect(escapeHtml(`<a href="x">'`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;');
    expect(scriptJson('\u2028<')).toBe('"\\u2028\\u003c"');
  });
});

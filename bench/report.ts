/**
 * `npm run bench:report`: the time to build the HTML report of a 5,000-pair job, with and
 * without ground truth, medians of interleaved rounds; then the 5,000-pair report opened in
 * headless Chromium (load, first page, a page turn). Writes bench-results/report.json.
 *
 * The job is built from the evaluation pairs: the 300 run once through the local pipeline
 * (the real model), then their records, images and masks copied under new ids into a job of
 * 5,000 pairs, one in 100 an error record, laid out in the bucket as the pipeline lays a job.
 *
 *   npm run bench:report [-- --pairs 5000 --rounds 5]
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { jobRecords } from '../cli/bucket-commands.js';
import { writeReport } from '../cli/report.js';
import { chunkName, jobKeys } from '../lambdas/core/keys.js';
import type { SegmentationResult } from '../lambdas/core/kinds/segmentation.js';
import type { OutputRecord } from '../lambdas/core/records.js';
import { startLocalPipeline } from '../local/local-pipeline.js';
import { launchChromium } from '../test/helpers/chromium.js';

const root = path.resolve(import.meta.dirname, '..');
const model = path.join(root, 'models/reference');
const evalDir = path.join(model, 'fixtures/eval');
const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '5' },
  },
});
const total = Number(values.pairs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const CHUNK = 64;

const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-bench-report-'));
const pipeline = await startLocalPipeline({
  port: 0,
  dataDir: path.join(scratch, 's3'),
  workers: 2,
  modelDir: model,
  engine: 'cpu',
  threads: 1,
  chunkSize: CHUNK,
  batchThreshold: Number.MAX_SAFE_INTEGER,
  visibilityTimeoutMs: 600_000,
  maxReceiveCount: 3,
  logLevel: 'ERROR',
});
const { store } = pipeline;

try {
  // The 300 evaluation pairs through the pipeline, once.
  process.stderr.write('running the 300 evaluation pairs\n');
  const truthLines = (await readFile(path.join(evalDir, 'truth.jsonl'), 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown> & { id: string; image: string; text: string });
  const manifest: string[] = [];
  for (const t of truthLines) {
    const key = `uploads/seed/${path.basename(t.image)}`;
    await store.put(key, await readFile(path.join(evalDir, t.image)));
    manifest.push(JSON.stringify({ id: t.id, image: key, text: t.text }));
  }
  await store.put('jobs/seed.jsonl', manifest.join('\n') + '\n');
  await pipeline.idle();
  const seed: OutputRecord[] = [];
  for await (const r of jobRecords(store, 'seed')) seed.push(r);
  seed.sort((a, b) => (a.id < b.id ? -1 : 1));
  const truthById = new Map(truthLines.map((t) => [t.id, t]));

  // The big job: copies under new ids, as the workers would have written them.
  process.stderr.write(`building a ${total}-pair job\n`);
  const job = `bench-${total}`;
  const truthOut: string[] = [];
  const relativeEval = path.relative(scratch, evalDir);
  for (let start = 0, chunk = 0; start < total; start += CHUNK, chunk++) {
    const results: OutputRecord[] = [];
    const errors: OutputRecord[] = [];
    await Promise.all(
      Array.from({ length: Math.min(CHUNK, total - start) }, async (_, k) => {
        const i = start + k;
        const source = seed[i % seed.length];
        const id = `p${String(i).padStart(5, '0')}`;
        const image = `uploads/${job}/${id}${path.extname(source.inputs.image ?? '.png')}`;
        await store.put(image, await store.get(source.inputs.image!));
        const truth = truthById.get(source.id)!;
        truthOut[i] = JSON.stringify({ ...truth, id, mask: path.join(relativeEval, String(truth.mask)) });
        if (i % 100 === 99) {
          errors[k] = {
            id,
            inputs: { ...source.inputs, image },
            model: source.model,
            engine: source.engine,
            status: 'error',
            error: {
              code: 'IMAGE_TRUNCATED',
              message: 'image data is truncated or corrupt: VipsPngload: premature end',
            },
          };
          return;
        }
        if (source.status !== 'ok') throw new Error(`seed pair ${source.id} failed: ${JSON.stringify(source)}`);
        const maskKey = jobKeys.mask(job, id, 'mask');
        const mask = source.tasks.mask as SegmentationResult;
        if (mask.mask) await store.put(maskKey, await store.get(mask.mask));
        results[k] = {
          ...source,
          id,
          inputs: { ...source.inputs, image },
          tasks: { ...source.tasks, mask: { ...mask, mask: mask.mask ? maskKey : null } },
        };
      }),
    );
    const lines = (rs: OutputRecord[]) =>
      rs
        .filter(Boolean)
        .map((r) => JSON.stringify(r) + '\n')
        .join('');
    await store.put(jobKeys.part(job, chunk), lines(results));
    await store.put(`${jobKeys.errorsPrefix(job)}${chunkName(chunk)}.jsonl`, lines(errors));
  }
  await store.put(jobKeys.success(job), '');
  const truthFile = path.join(scratch, 'truth.jsonl');
  await writeFile(truthFile, truthOut.join('\n') + '\n');

  // Interleaved rounds: with ground truth (as npm start writes it) and without.
  const withTruth: number[] = [];
  const without: number[] = [];
  const out = path.join(scratch, 'report.html');
  let bytes = 0;
  for (let round = 1; round <= Number(values.rounds); round++) {
    process.stderr.write(`round ${round}\n`);
    const a = await writeReport(store, { job, out, manifest: pipeline.model.manifest, truth: truthFile });
    withTruth.push(a.seconds);
    bytes = a.bytes;
    const b = await writeReport(store, {
      job,
      out: path.join(scratch, 'plain.html'),
      manifest: pipeline.model.manifest,
    });
    without.push(b.seconds);
  }

  // The report in a browser: load to the first page of cards, then a page turn.
  let browser: Record<string, unknown> | null = null;
  {
    const instance = await launchChromium();
    try {
      const page = await instance.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      let started = performance.now();
      await page.goto(`file://${out}`);
      await page.locator('article.card').nth(49).waitFor();
      const loadSeconds = (performance.now() - started) / 1000;
      started = performance.now();
      await page.click('#next');
      await page.locator('article.card[data-id="p00050"]').waitFor();
      const pageTurnMs = performance.now() - started;
      browser = { loadSeconds, pageTurnMs, pageInfo: await page.locator('#page-info').textContent(), problems };
    } finally {
      await instance.close();
    }
  }

  const report = {
    pairs: total,
    errors: Math.floor(total / 100),
    rounds: Number(values.rounds),
    cpus: os.availableParallelism(),
    reportSecondsWithTruth: median(withTruth),
    reportSecondsWithoutTruth: median(without),
    reportBytes: bytes,
    reportBytesPerPair: Math.round(bytes / total),
    samples: { withTruth, without },
    browser,
  };
  await mkdir(path.join(root, 'bench-results'), { recursive: true });
  await writeFile(path.join(root, 'bench-results/report.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(report, null, 2));
} finally {
  await pipeline.close();
  await rm(scratch, { recursive: true, force: true });
}

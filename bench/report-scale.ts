/**
 * `npm run bench:report-scale`: the HTML report of a 100,000-pair job, timed, with its peak
 * memory (the report runs in a fresh child process; its maxRSS is the figure). Writes
 * bench-results/report-scale.json.
 *
 * The job is synthesized: the 300 evaluation pairs run once through the reference model (in
 * process, cpu engine) into a plain embedded S3 server, their records, images and masks then
 * reused under new ids (the copies point at the 300 images and masks) in parts of 100 pairs,
 * one pair in 100 an error record, laid out as the workers lay a job (parts/ and errors/).
 * Runs the report without ground truth, then with it (every pair scored; masks compared).
 *
 *   npm run bench:report-scale [-- --pairs 100000 --chunk 100 --gallery 5000 --no-truth]
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { listFolderPairs } from '../cli/adapters/local-files.js';
import { writeReport } from '../cli/report.js';
import { SharpImageDecoder } from '../lambdas/adapters/image-codec.js';
import { loadModelBundle, readManifest } from '../lambdas/adapters/model-bundle.js';
import { objectMaskStore } from '../lambdas/adapters/object-mask-store.js';
import { createS3Client, S3ObjectStore } from '../lambdas/adapters/s3-store.js';
import { jobKeys } from '../lambdas/core/keys.js';
import { runPipeline } from '../lambdas/core/pipeline.js';
import type { OutputRecord } from '../lambdas/core/records.js';
import { startEmbeddedS3 } from '../test/helpers/fresh-process.js';

const root = path.resolve(import.meta.dirname, '..');
const model = path.join(root, 'models/reference');
const evalDir = path.join(model, 'fixtures/eval');
const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '100000' },
    chunk: { type: 'string', default: '100' },
    gallery: { type: 'string', default: '5000' },
    'no-truth': { type: 'boolean', default: false },
    // The child: one report against a running server, then its figures as one JSON line.
    child: { type: 'boolean', default: false },
    endpoint: { type: 'string' },
    job: { type: 'string' },
    out: { type: 'string' },
    truth: { type: 'string' },
  },
});
const BUCKET = 'fusebatch';
const MARKER = '@@report-scale@@';

if (values.child) {
  if (process.env.REPORT_SCALE_TRACE) {
    // Where the memory is, every 10 s: V8's heap, buffers outside it, the whole process.
    setInterval(() => {
      const m = process.memoryUsage();
      const mb = (x: number) => `${Math.round(x / 2 ** 20)}`;
      process.stderr.write(
        `memory: rss ${mb(m.rss)} heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} external ${mb(m.external)} buffers ${mb(m.arrayBuffers)} MiB\n`,
      );
    }, 10_000).unref();
  }
  const store = new S3ObjectStore(createS3Client({ bucket: BUCKET, endpoint: values.endpoint }), BUCKET);
  const line = await writeReport(store, {
    job: values.job!,
    out: values.out!,
    manifest: await readManifest(model),
    truth: values.truth,
    gallery: Number(values.gallery),
  });
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(MARKER + JSON.stringify({ ...line, peakRssMb }));
  process.exit(0);
}

/** Runs one report in a fresh process and returns its figures. */
function childReport(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = stdout.split('\n').find((l) => l.startsWith(MARKER));
      if (code !== 0 || !line) reject(new Error(`the report failed (exit ${code}):\n${stdout}`));
      else resolve({ ...JSON.parse(line.slice(MARKER.length)), wallSeconds: (performance.now() - started) / 1000 });
    });
  });
}

const total = Number(values.pairs);
const chunk = Number(values.chunk);
const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-bench-report-scale-'));
const s3 = await startEmbeddedS3(BUCKET);
const { store } = s3;
try {
  // The 300 evaluation pairs through the model once; images and masks into the bucket.
  process.stderr.write('running the 300 evaluation pairs\n');
  const seedJob = 'seed';
  const bundle = await loadModelBundle(model, { engine: 'cpu', threads: 2 });
  const seed: OutputRecord[] = [];
  try {
    const pairs = await listFolderPairs(path.join(evalDir, 'pairs'));
    const masks = objectMaskStore(store, (id, task) => jobKeys.mask(seedJob, id, task));
    for await (const r of runPipeline(pairs, { model: bundle, images: new SharpImageDecoder(), masks })) seed.push(r);
    for (const pair of pairs) await store.put(`uploads/${seedJob}/${pair.image}`, await pair.readImage());
  } finally {
    await bundle.engine.close();
  }
  const failed = seed.filter((r) => r.status !== 'ok');
  if (failed.length) throw new Error(`seed pairs failed: ${JSON.stringify(failed[0])}`);
  const truthById = new Map(
    (await readFile(path.join(evalDir, 'truth.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const line = JSON.parse(l) as Record<string, unknown> & { id: string };
        return [line.id, line] as const;
      }),
  );

  // The big job: parts of `chunk` copies, as the workers would have written them.
  process.stderr.write(`writing a ${total}-pair job in parts of ${chunk}\n`);
  const job = `scale-${total}`;
  const relativeEval = path.relative(scratch, evalDir);
  const truthLines: string[] = [];
  for (let start = 0, c = 0; start < total; start += chunk, c++) {
    const results: string[] = [];
    const errors: string[] = [];
    for (let i = start; i < Math.min(total, start + chunk); i++) {
      const source = seed[i % seed.length];
      const id = `p${String(i).padStart(6, '0')}`;
      const inputs = { ...source.inputs, image: `uploads/${seedJob}/${source.inputs.image}` };
      const truth = truthById.get(source.id)!;
      // Truth pictures are relative to the truth file, which is written elsewhere.
      const moved = Object.entries(truth).map(([k, v]) =>
        typeof v === 'string' && v.endsWith('.png') ? [k, path.join(relativeEval, v)] : [k, v],
      );
      truthLines.push(JSON.stringify({ ...Object.fromEntries(moved), id }));
      if (i % 100 === 99) {
        const error = { code: 'IMAGE_TRUNCATED', message: 'image data is truncated or corrupt: premature end' };
        errors.push(JSON.stringify({ id, inputs, model: source.model, engine: source.engine, status: 'error', error }));
      } else {
        results.push(JSON.stringify({ ...source, id, inputs }));
      }
    }
    const name = String(c).padStart(6, '0');
    await store.put(`${jobKeys.partsPrefix(job)}${name}.jsonl`, results.join('\n') + '\n');
    await store.put(`${jobKeys.errorsPrefix(job)}${name}.jsonl`, errors.length ? errors.join('\n') + '\n' : '');
  }
  await store.put(jobKeys.success(job), '');
  const truthFile = path.join(scratch, 'truth.jsonl');
  await writeFile(truthFile, truthLines.join('\n') + '\n');

  const base = ['--endpoint', s3.endpoint, '--job', job, '--gallery', String(values.gallery)];
  process.stderr.write('report without ground truth\n');
  const plain = await childReport([...base, '--out', path.join(scratch, 'plain.html')]);
  let withTruth: Record<string, unknown> | null = null;
  if (!values['no-truth']) {
    process.stderr.write('report with ground truth\n');
    withTruth = await childReport([...base, '--out', path.join(scratch, 'truth.html'), '--truth', truthFile]);
  }
  // The in-process figure too, for comparison with bench:report (same code, warm process).
  const inProcess = await writeReport(store, {
    job,
    out: path.join(scratch, 'again.html'),
    manifest: await readManifest(model),
    gallery: Number(values.gallery),
  });

  const report = {
    pairs: total,
    chunk,
    parts: Math.ceil(total / chunk),
    gallery: Number(values.gallery),
    cpus: os.availableParallelism(),
    node: process.version,
    withoutTruth: plain,
    withTruth,
    inProcessSecondsWithoutTruth: inProcess.seconds,
  };
  await mkdir(path.join(root, 'bench-results'), { recursive: true });
  await writeFile(path.join(root, 'bench-results/report-scale.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(report, null, 2));
} finally {
  await s3.close();
  await rm(scratch, { recursive: true, force: true });
}

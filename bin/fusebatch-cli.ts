/**
 * The `fusebatch` command line. Thin: parses arguments, calls the command, prints, and sets
 * the exit code (non-zero only when a command could not run at all).
 */

import { once } from 'node:events';
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { EstimateOptions } from '../cli/estimate.js';
import { RECORD_FORMATS } from '../cli/record-format.js';
import { formatRows, ROW_FORMATS, type RowFormat } from '../cli/row-format.js';
import type { S3ObjectStore } from '../lambdas/adapters/s3-store.js';
import { FusebatchError } from '../lambdas/core/errors.js';
import { ROUTES } from '../lambdas/core/estimate.js';
import { formatMetric } from '../lambdas/core/evaluation.js';
import { jobNameProblem } from '../lambdas/core/keys.js';
import { formatIssues } from '../lambdas/core/manifest.js';
import { DEFAULT_MASK_FORMAT, MASK_FORMATS } from '../lambdas/core/mask-format.js';
import { DEFAULT_GALLERY } from '../lambdas/core/report/gallery.js';
import { ENGINE_NAMES, type EngineName } from '../lambdas/core/tensor.js';
import { defaultDemoOut, LOCAL_BUCKET, LOCAL_CREDENTIALS } from '../local/local-settings.js';
import { type FaultOptions, FaultOptionsSchema } from '../local/s3-front-faults.js';

// Each command imports what it runs when it runs: `infer` and `validate-model` never load the
// AWS SDK, s3rver or DuckDB, and `--help` loads none of them.

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

/** --faults: JSON, checked against the fault options' schema here, so a mistake is one clear line. */
function faultsArgument(value: string): FaultOptions {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected JSON');
  }
  const parsed = FaultOptionsSchema.safeParse(json);
  if (!parsed.success) throw new InvalidArgumentError(formatIssues(parsed.error).join('; '));
  return json as FaultOptions;
}

/** A job name, checked here so that a name no job can have is one clear line, not a job not found. */
function jobName(value: string): string {
  const problem = jobNameProblem(value);
  if (problem) throw new InvalidArgumentError(problem);
  return value;
}

function wholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return n;
}

const collect = (value: string, previous: string[]) => [...previous, value];

const engineOption = () =>
  new Option('--engine <engine>', 'inference engine').choices(ENGINE_NAMES).default('cpu' satisfies EngineName);

const maskFormatOption = (where: string) =>
  new Option('--mask-format <format>', `masks and class maps: inline COCO RLE in the records, PNGs ${where}, or both`)
    .choices(MASK_FORMATS)
    .default(DEFAULT_MASK_FORMAT);

interface BucketFlags {
  endpoint?: string;
  bucket?: string;
  region?: string;
}

/** --endpoint (the local server) or AWS's defaults; --bucket is required on AWS. */
function bucketFrom(flags: BucketFlags): string {
  const bucket = flags.bucket ?? (flags.endpoint ? LOCAL_BUCKET : process.env.FUSEBATCH_BUCKET);
  if (!bucket) throw new InvalidArgumentError('--bucket is required without --endpoint (or set FUSEBATCH_BUCKET)');
  return bucket;
}

async function storeFrom(flags: BucketFlags): Promise<S3ObjectStore> {
  const bucket = bucketFrom(flags);
  const { createS3Client, S3ObjectStore } = await import('../lambdas/adapters/s3-store.js');
  return new S3ObjectStore(createS3Client({ bucket, endpoint: flags.endpoint, region: flags.region }), bucket);
}

const withBucket = (command: Command) =>
  command
    .option('--endpoint <url>', 'S3 endpoint (the local server, e.g. http://127.0.0.1:4566); AWS when absent')
    .option('--bucket <name>', `bucket (default: ${LOCAL_BUCKET} with --endpoint, else FUSEBATCH_BUCKET)`)
    .option('--region <region>', 'AWS region (default: AWS_REGION)');

const tty = () => Boolean(process.stderr.isTTY);

const program = new Command('fusebatch')
  .description('Batch inference for fused multimodal multi-task ONNX models')
  .showHelpAfterError();

program
  .command('infer')
  .description('run a model on a folder of pairs (<id>.<image ext> + <id>.txt) into a JSON Lines file')
  .requiredOption('--model <dir>', 'model bundle folder (model.json, model.onnx, tokenizer)')
  .requiredOption('--input <dir>', 'folder of pairs, subfolders included')
  .requiredOption('--out <file>', 'results file, one JSON line per pair')
  .addOption(engineOption())
  .option('--batch <n>', "batch size (default: the model's maxBatchSize)", positiveInt)
  .option('--threads <n>', 'threads per inference', positiveInt, Math.min(2, os.availableParallelism()))
  .option('--masks <dir>', 'write dense outputs (masks, class maps, value maps) as PNG files here')
  .addOption(maskFormatOption('in --masks'))
  .option('--truth <file>', 'ground truth (JSON Lines by id) to score the results against, task by task')
  .action(async (opts) => {
    const { infer } = await import('../cli/infer.js');
    const summary = await infer({ ...opts, progress: Boolean(process.stderr.isTTY) });
    const codes = Object.entries(summary.errorsByCode)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    console.log(
      `${summary.pairs} pairs, ${summary.errors} errors${codes ? ` (${codes})` : ''}, ` +
        `${summary.seconds.toFixed(1)} s, ${summary.pairsPerSecond.toFixed(1)} pairs/s -> ${opts.out}`,
    );
    for (const m of summary.metrics ?? []) console.log(formatMetric(m));
  });

program
  .command('validate-model')
  .description('check a model bundle against its ONNX graph and print its inputs and tasks')
  .argument('<dir>', 'model bundle folder')
  .addOption(engineOption())
  .action(async (dir: string, opts: { engine: EngineName }) => {
    const { describeModel } = await import('../cli/validate-model.js');
    console.log(await describeModel(dir, opts.engine));
    console.log('ok');
  });

program
  .command('init-model')
  .description('write a draft model.json for an ONNX file, from its inputs and outputs, and list what to fill in')
  .argument('<model.onnx>', 'the exported model')
  .option('--out <dir>', "the bundle folder to write model.json into (default: the ONNX file's folder)")
  .option('--force', 'overwrite an existing model.json')
  .action(async (onnx: string, opts: { out?: string; force?: boolean }) => {
    const { initModel } = await import('../cli/init-model.js');
    const { file, notes } = await initModel(onnx, opts);
    console.log(
      `wrote ${file}: a draft. Check each guess, fill in every TODO, delete "draft", then run validate-model:`,
    );
    for (const note of notes) console.log(`  - ${note}`);
  });

program
  .command('serve')
  .description('run the pipeline locally: embedded S3 server, the ingest handler on its events, a pool of workers')
  .option('--port <port>', 'port of the S3 endpoint', (v) => Number(v), 4566)
  .option('--data <dir>', 'where the bucket is kept', path.join(defaultDemoOut(), 's3'))
  .option('--workers <n>', 'worker handlers', positiveInt, 2)
  .option('--model <dir>', 'model bundle', 'models/reference')
  .addOption(engineOption().default('wasm'))
  .option('--threads <n>', 'threads per inference', positiveInt, 1)
  .option('--chunk-size <n>', 'pairs per chunk', positiveInt, 64)
  .addOption(maskFormatOption('beside the records'))
  .option(
    '--batch-threshold <n>',
    'jobs with more pairs take the Batch route (locally: the same workers)',
    positiveInt,
    20_000,
  )
  .option(
    '--faults <json>',
    'S3 faults to inject, for trying retries: e.g. \'{"slowDown":{"rate":0.2}}\' (see local/s3-front-faults.ts)',
    faultsArgument,
  )
  .action(async (opts) => {
    const { startLocalPipeline } = await import('../local/local-pipeline.js');
    const pipeline = await startLocalPipeline({
      port: opts.port,
      dataDir: opts.data,
      workers: opts.workers,
      modelDir: opts.model,
      engine: opts.engine,
      threads: opts.threads,
      chunkSize: opts.chunkSize,
      batchThreshold: opts.batchThreshold,
      visibilityTimeoutMs: 60_000,
      maxReceiveCount: 3,
      logLevel: 'INFO',
      faults: opts.faults,
      maskFormat: opts.maskFormat,
    });
    console.log(`endpoint    ${pipeline.endpoint}`);
    console.log(`bucket      ${pipeline.bucket}`);
    console.log(
      `credentials AWS_ACCESS_KEY_ID=${LOCAL_CREDENTIALS.accessKeyId} AWS_SECRET_ACCESS_KEY=${LOCAL_CREDENTIALS.secretAccessKey}`,
    );
    console.log(
      `try         aws --endpoint-url ${pipeline.endpoint} s3 cp photo.png s3://${pipeline.bucket}/inbox/photo.png`,
    );
    console.log('serving; Ctrl-C stops');
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    await pipeline.close();
  });

function percent(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!(n >= 0 && n <= 100)) throw new InvalidArgumentError('expected a percentage from 0 to 100');
  return n;
}

/** --memory: a Lambda memory size. */
function lambdaMemory(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 128 || n > 10240)
    throw new InvalidArgumentError('expected whole MB from 128 to 10240');
  return n;
}

program
  .command('estimate')
  .description(
    "what a job will cost and how long it will take, by route (Lambda queue, AWS Batch GPU, local), from the deploy settings (cdk.json), the bundle's calibration.json and the prices; uploads nothing",
  )
  .argument('<source>', 'folder of pairs, or a .jsonl (or .csv) manifest')
  .addOption(
    new Option('--route <route>', 'auto: every route, the one the stack takes marked')
      .choices(['auto', ...ROUTES])
      .default('auto'),
  )
  .option('--memory <MB>', "the workers' memory instead of the deploy setting worker.memoryMiB", lambdaMemory)
  .addOption(
    new Option(
      '--mask-format <format>',
      'masks and class maps inline (rle), as PNG objects (png), or both (default: the deploy setting masks)',
    ).choices(MASK_FORMATS),
  )
  .option('--workers <n>', 'workers of the local pipeline (--route local)', positiveInt, 2)
  .addOption(
    new Option(
      '--measure [pairs]',
      "run the job's first pairs (default: four waves of chunks, 4 × workers × chunkSize) through a local pipeline first, and price the local route at the rates measured now",
    ).argParser(positiveInt),
  )
  .option('--prices <file>', 'JSON prices over the defaults (lambdas/core/estimate.ts, DEFAULT_PRICES)')
  .option('--model <dir>', 'bundle whose calibration.json is used (default: the deploy setting modelDir)')
  .option('-c, --context <key=value>', 'a deploy setting as cdk takes it, e.g. fusebatch:chunkSize=50', collect, [])
  .option('--json', 'print the estimate as JSON')
  // A mistake is one line, not the help after it.
  .showHelpAfterError(false)
  .action(async (source: string, opts: EstimateOptions & { json?: boolean }) => {
    const { estimateJson, estimateSource, formatEstimate } = await import('../cli/estimate.js');
    const result = await estimateSource(source, opts);
    process.stdout.write(opts.json ? JSON.stringify(estimateJson(result), null, 2) + '\n' : formatEstimate(result));
  });

withBucket(program.command('submit'))
  .description('upload a folder of pairs (or a .jsonl manifest and its images) as a job; prints the job id')
  .argument('<source>', 'folder of pairs, or manifest.jsonl whose image fields are paths relative to it')
  .option('--job <name>', 'job name (default: from the folder or manifest name)', jobName)
  .option(
    '--tolerate <percent>',
    "stop the job as failed once its error records pass this share of its lines (default: the stack's, 100)",
    percent,
  )
  .option('--dry-run', 'print the estimate (as fusebatch estimate does) and upload nothing')
  .action(async (source: string, opts: BucketFlags & { job?: string; tolerate?: number; dryRun?: boolean }) => {
    if (opts.dryRun) {
      const { estimateSource, formatEstimate } = await import('../cli/estimate.js');
      const options = { route: 'auto', workers: 2, context: [] } as const;
      process.stdout.write(formatEstimate(await estimateSource(source, options)));
      return;
    }
    const { submitFolder, submitManifest } = await import('../cli/bucket-commands.js');
    const store = await storeFrom(opts);
    const isDir = (await stat(source)).isDirectory();
    const options = { job: opts.job, progress: tty(), toleratedFailurePercent: opts.tolerate };
    const { job, pairs } = isDir
      ? await submitFolder(store, source, options)
      : await submitManifest(store, source, options);
    console.log(`${job} (${pairs} lines)`);
  });

withBucket(program.command('status'))
  .description(
    "print a job's state (ingesting, running, stalled, complete, failed, cancelled) and progress, from its completion markers; with --inbox, the single pairs still waiting",
  )
  .argument('[job]', 'job name (not needed with --inbox)', jobName)
  .option('--watch', 'follow with a progress bar until the job is complete, failed or cancelled')
  .option('--interval <seconds>', 'seconds between polls when watching', (v) => Number(v), 5)
  .option('--timeout <seconds>', 'give up watching after this long', (v) => Number(v), 3600)
  .option(
    '--inbox',
    'list inbox/ pairs with no record or one older than a half (halves present and missing, age of the newest) and the inbox keys refused, with why',
  )
  .option('--json', 'with --inbox: JSON lines instead of a table')
  .action(
    async (
      job: string | undefined,
      opts: BucketFlags & { watch?: boolean; interval: number; timeout: number; inbox?: boolean; json?: boolean },
    ) => {
      if (!job && !opts.inbox) throw new FusebatchError('status needs a job, or --inbox');
      if (opts.json && !opts.inbox) throw new FusebatchError('--json goes with --inbox');
      const store = await storeFrom(opts);
      if (opts.inbox) {
        const { inboxStatus } = await import('../cli/bucket-commands.js');
        process.stdout.write(await inboxStatus(store, { json: Boolean(opts.json) }));
      }
      if (!job) return;
      const { waitForJob } = await import('../cli/bucket-commands.js');
      const { readJobStatus } = await import('../lambdas/core/job-status.js');
      const status = opts.watch
        ? await waitForJob(store, job, {
            progress: tty(),
            timeoutMs: opts.timeout * 1000,
            intervalMs: Math.max(0.2, opts.interval) * 1000,
          })
        : await readJobStatus(store, job);
      console.log(JSON.stringify(status, null, 2));
    },
  );

withBucket(program.command('redrive'))
  .description(
    'run again the stalled chunks of a job and those with retryable error records (IMAGE_MISSING, TEXT_MISSING, INFERENCE_FAILED), or finish an ingest that stopped',
  )
  .argument('<job>', 'job name', jobName)
  .option('--all-missing', 'also re-send every chunk not done yet, stalled or not (chunks whose message was lost)')
  .action(async (job: string, opts: BucketFlags & { allMissing?: boolean }) => {
    const { requestRedrive } = await import('../cli/bucket-commands.js');
    const { request, status } = await requestRedrive(await storeFrom(opts), job, { allMissing: opts.allMissing });
    const where = status
      ? ` (${status.state}: ${status.done}/${status.total} pairs, ${status.chunks.stalled} chunks stalled)`
      : '';
    console.log(`redrive ${request} requested for ${job}${where}; follow it with: fusebatch status ${job} --watch`);
  });

withBucket(program.command('cancel'))
  .description('cancel a job: chunks not started yet are not run (records already written stay)')
  .argument('<job>', 'job name', jobName)
  .option('--reason <text>', 'why, shown by status', 'cancelled by the user')
  .action(async (job: string, opts: BucketFlags & { reason: string }) => {
    const { cancelJob } = await import('../cli/bucket-commands.js');
    const status = await cancelJob(await storeFrom(opts), job, opts.reason);
    console.log(`${job} cancelled: ${status.done}/${status.total} pairs have records`);
  });

withBucket(program.command('results'))
  .description(
    "stream a job's records (results, then errors); csv and table take their columns from the first 1,000 records (a task column first seen later is left out, with a note on stderr)",
  )
  .argument('<job>', 'job name', jobName)
  .addOption(new Option('--format <format>', 'output format').choices(RECORD_FORMATS).default('jsonl'))
  .action(async (job: string, opts: BucketFlags & { format: (typeof RECORD_FORMATS)[number] }) => {
    const { jobRecords } = await import('../cli/bucket-commands.js');
    const { formatRecords } = await import('../cli/record-format.js');
    const store = await storeFrom(opts);
    const onNote = (note: string) => console.error(`fusebatch: ${note}`);
    for await (const chunk of formatRecords(jobRecords(store, job), opts.format, { onNote })) {
      // Waits when stdout's buffer is full (a slow pipe or terminal), so memory stays flat.
      if (!process.stdout.write(chunk)) await once(process.stdout, 'drain');
    }
  });

withBucket(program.command('pair'))
  .description(
    'upload one image and/or caption to inbox/ and print its record when it is ready (an image-only model needs no caption; `-` for no image)',
  )
  .argument('<image>', "the image file, or - for a text-only model's pair")
  .argument('[caption]', 'the caption (left out for an image-only model)')
  .option('--id <id>', 'pair id (default: image name and a timestamp)')
  .option('--timeout <seconds>', 'how long to wait', (v) => Number(v), 120)
  .action(async (image: string, caption: string | undefined, opts: BucketFlags & { id?: string; timeout: number }) => {
    const { sendPair } = await import('../cli/bucket-commands.js');
    const record = await sendPair(await storeFrom(opts), image === '-' ? null : image, caption ?? null, {
      id: opts.id,
      timeoutMs: opts.timeout * 1000,
    });
    console.log(JSON.stringify(record, null, 2));
  });

withBucket(program.command('query'))
  .description(
    'run SQL over the results (single pairs and jobs) as the table `results`, with the Athena table’s columns (DuckDB, in process)',
  )
  .argument('<sql>', 'e.g. "SELECT tasks.shape.label, count(*) FROM results GROUP BY 1"')
  .option('--job <job>', "only this job's records (default: every record under results/)", jobName)
  .addOption(new Option('--format <format>', 'output format').choices(ROW_FORMATS).default('table'))
  .option('--model <dir>', 'model bundle whose tasks are the columns of tasks', 'models/reference')
  .option(
    '--cache-dir <dir>',
    'keep downloaded records here by bucket, key and ETag, so the next query downloads only new or changed objects (default: FUSEBATCH_CACHE_DIR, else $XDG_CACHE_HOME/fusebatch, else ~/.cache/fusebatch)',
  )
  .option('--no-cache', 'download every object, keeping nothing')
  .action(
    async (
      sql: string,
      opts: BucketFlags & { job?: string; format: RowFormat; model: string; cacheDir?: string; cache: boolean },
    ) => {
      const { readManifest } = await import('../lambdas/adapters/model-bundle.js');
      const { ObjectCache, defaultCacheDir } = await import('../cli/adapters/object-cache.js');
      const { queryBucket } = await import('../cli/query.js');
      const manifest = await readManifest(opts.model);
      // The same bucket name on another server is another bucket.
      const where = `${opts.endpoint ?? 's3:'}//${bucketFrom(opts)}`;
      const cache = opts.cache ? new ObjectCache(opts.cacheDir ?? defaultCacheDir(), where) : undefined;
      const { columns, rows, objects } = await queryBucket(await storeFrom(opts), manifest, sql, {
        job: opts.job,
        cache,
      });
      if (objects === 0) console.error(`fusebatch: no records under results/${opts.job ? `jobs/${opts.job}/` : ''}`);
      process.stdout.write(formatRows(columns, rows, opts.format));
    },
  );

withBucket(program.command('report'))
  .description(
    "write one self-contained HTML file of a job's records: the summary, charts and metrics of every pair, then a paged gallery of at most --gallery pairs (past that: the errors and wrong pairs first, up to half, and a sample of the others chosen by a hash of the id)",
  )
  .argument('<job>', 'job name', jobName)
  .requiredOption('--out <file>', 'the HTML file to write, e.g. report.html')
  .option('--truth <file>', 'ground truth (JSON Lines by id) for right/wrong marks and per-task metrics')
  .option('--model <dir>', 'model bundle that made the records (tasks, labels, thresholds)', 'models/reference')
  .option('--page-size <n>', 'pairs per page of the gallery', positiveInt, 50)
  .option('--gallery <n>', 'most pairs in the gallery (0: none)', wholeNumber, DEFAULT_GALLERY)
  .action(
    async (
      job: string,
      opts: BucketFlags & { out: string; truth?: string; model: string; pageSize: number; gallery: number },
    ) => {
      const { readManifest } = await import('../lambdas/adapters/model-bundle.js');
      const { writeReport } = await import('../cli/report.js');
      const manifest = await readManifest(opts.model);
      const report = await writeReport(await storeFrom(opts), {
        job,
        out: opts.out,
        manifest,
        truth: opts.truth,
        pageSize: opts.pageSize,
        gallery: opts.gallery,
      });
      const shown = report.shown < report.pairs ? ` (${report.shown} in the gallery)` : '';
      console.log(
        `${report.file}: ${report.pairs} pairs${shown}, ${report.errors} errors, ${(report.bytes / 1e6).toFixed(1)} MB, ${report.seconds.toFixed(1)} s`,
      );
    },
  );

program
  .command('demo')
  .description(
    'the whole flow locally: start the server, submit the sample pairs as a job and a few single pairs, print a summary',
  )
  .option('--model <dir>', 'model bundle', 'models/reference')
  .option('--pairs <dir>', 'folder of pairs', 'models/reference/fixtures/eval/pairs')
  .option('--truth <file>', 'ground truth to score against', 'models/reference/fixtures/eval/truth.jsonl')
  .option('--out <dir>', 'where the bucket and the results file go', 'out/demo')
  .option('--port <port>', 'port of the S3 endpoint (0: any free port)', (v) => Number(v), 0)
  .option('--workers <n>', 'worker handlers', positiveInt, 2)
  .addOption(engineOption().default('wasm'))
  .option('--threads <n>', 'threads per inference', positiveInt, 1)
  .option('--chunk-size <n>', 'pairs per chunk', positiveInt, 32)
  .addOption(maskFormatOption('beside the records'))
  .option('--serve', 'keep serving after the summary')
  .action(async (opts) => {
    const { describeKeys, runDemo } = await import('../cli/demo.js');
    const summary = await runDemo({ ...opts, progress: tty(), serve: Boolean(opts.serve) });
    console.log(
      `\njob ${summary.job}: ${summary.pairs} pairs, ${summary.errors} errors, ${summary.seconds.toFixed(1)} s, ${summary.pairsPerSecond.toFixed(1)} pairs/s (upload, ingest, ${opts.workers} workers, engine ${opts.engine})`,
    );
    for (const m of summary.metrics) console.log(formatMetric(m));
    console.log(`single pairs through inbox/: ${summary.singlePairs.map((p) => `${p.id} ${p.status}`).join(', ')}`);
    console.log(`results: ${summary.resultsFile}`);
    console.log(`report: ${summary.reportFile}`);
    console.log(
      `bucket ${summary.pipeline.bucket} at ${summary.pipeline.endpoint}: ${describeKeys(summary.job, summary.pipeline.model.manifest, opts.maskFormat).join(', ')}`,
    );
    if (opts.serve) {
      console.log('serving; Ctrl-C stops');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    await summary.pipeline.close();
  });

try {
  await program.parseAsync();
} catch (error) {
  // Known errors print their message alone; anything else keeps its stack.
  console.error(error instanceof FusebatchError ? `fusebatch: ${error.message}` : error);
  process.exitCode = 1;
}

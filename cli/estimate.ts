/**
 * `fusebatch estimate` and `submit --dry-run`: counts the job (a folder of pairs, or a manifest
 * streamed line by line), reads the deploy settings as the CDK app does (cdk.json's context,
 * cdk.context.json, `-c` pairs), the bundle's calibration.json and the prices, and prices
 * the job with the core's cost model. Nothing is uploaded and no bucket is needed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { parse as parseCsvStream } from 'csv-parse';
import { readManifest } from '../lambdas/adapters/model-bundle.js';
import { FusebatchError, ModelBundleError } from '../lambdas/core/errors.js';
import {
  type Calibration,
  CalibrationSchema,
  DEFAULT_PRICES,
  type Estimate,
  estimateJob,
  type JobCounts,
  type Prices,
  PricesOverrideSchema,
  ROUTES,
  type Route,
  type RouteEstimate,
  withPriceOverride,
} from '../lambdas/core/estimate.js';
import { CSV_MANIFEST_OPTIONS } from '../lambdas/core/job-manifest.js';
import { formatIssues, pairNeeds } from '../lambdas/core/manifest.js';
import type { MaskFormat } from '../lambdas/core/mask-format.js';
import { PipelineConfigError, type PipelineConfigInput, resolvePipelineConfig } from '../lib/config.js';
import type { LocalRate } from '../local/measure.js';
import { listFolderPairs } from './adapters/local-files.js';
import { jsonObjectOrNull } from './bucket-commands.js';

export const ROUTE_CHOICES = ['auto', ...ROUTES] as const;
export type RouteChoice = (typeof ROUTE_CHOICES)[number];

export interface EstimateOptions {
  /** `auto`: every route, the stack's marked; a route: that one alone. */
  readonly route: RouteChoice;
  /** Worker memory (MB) instead of the deploy setting's. */
  readonly memory?: number;
  /** How masks and class maps are kept (default: the deploy setting masks). */
  readonly maskFormat?: MaskFormat;
  readonly workers: number;
  /** A JSON file of prices over the defaults. */
  readonly prices?: string;
  /** The bundle whose calibration is used (default: the deploy setting modelDir). */
  readonly model?: string;
  /** `fusebatch:<setting>=<value>` pairs, as `cdk -c` takes them. */
  readonly context: readonly string[];
  /** Where cdk.json is looked for (the CDK app's folder). */
  readonly cwd?: string;
  /**
   * Pairs of the job to run through a local pipeline first (true: four waves of chunks): the
   * local route is then priced at the rates measured now, on this machine at its present load,
   * instead of the calibration's.
   */
  readonly measure?: number | true;
}

export interface EstimateResult {
  readonly source: string;
  readonly estimate: Estimate;
  /** The routes shown: every route, or the one asked for. */
  readonly shown: readonly Route[];
  readonly model: { readonly dir: string; readonly name: string; readonly version: string };
  readonly calibration: Pick<Calibration, 'measuredAt' | 'machine'> & { readonly file: string };
  readonly prices: string;
  readonly settings: { readonly chunkSize: number; readonly workerMemoryMiB: number; readonly concurrency: number };
  /** The local pipeline's run on the job's first pairs (`measure`), when asked. */
  readonly measured?: LocalRate;
}

async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FusebatchError(`cannot read ${what} ${file} (${code === 'ENOENT' ? 'no such file' : code})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new FusebatchError(`${what} ${file} is not valid JSON (${(error as Error).message})`);
  }
}

/** The CDK app's context: cdk.json's, then cdk.context.json's, then `-c` pairs (later wins, as in cdk). */
async function deployContext(cwd: string, pairs: readonly string[]): Promise<Record<string, unknown>> {
  const context: Record<string, unknown> = {};
  for (const name of ['cdk.json', 'cdk.context.json']) {
    const file = path.join(cwd, name);
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    if (!exists) continue;
    const json = (await readJsonFile(file, name)) as Record<string, unknown>;
    Object.assign(context, name === 'cdk.json' ? (json.context ?? {}) : json);
  }
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new FusebatchError(`-c ${pair}: expected key=value, e.g. fusebatch:chunkSize=50`);
    context[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return context;
}

export async function loadCalibration(modelDir: string): Promise<{ calibration: Calibration; file: string }> {
  const file = path.join(modelDir, 'calibration.json');
  const exists = await stat(file).then(
    () => true,
    () => false,
  );
  if (!exists) {
    throw new FusebatchError(
      `no calibration for ${modelDir} (${file}): run npm run bench:calibrate -- --model ${modelDir}`,
    );
  }
  const parsed = CalibrationSchema.safeParse(await readJsonFile(file, 'calibration'));
  if (!parsed.success) throw new FusebatchError(`${file}: ${formatIssues(parsed.error).join('; ')}`);
  return { calibration: parsed.data, file };
}

export async function loadPrices(file: string | undefined): Promise<Prices> {
  if (!file) return DEFAULT_PRICES;
  const parsed = PricesOverrideSchema.safeParse(await readJsonFile(file, 'prices'));
  if (!parsed.success) throw new FusebatchError(`prices ${file}: ${formatIssues(parsed.error).join('; ')}`);
  return withPriceOverride({ ...DEFAULT_PRICES, source: `${file} over ${DEFAULT_PRICES.source}` }, parsed.data);
}

/**
 * The job's lines, images and uploads, in bounded memory: a folder's pairs as submit lists
 * them; a .jsonl manifest line by line (submit uploads the images it names); a .csv manifest
 * (for the bucket: its images are keys already, none uploaded).
 */
export async function countJob(source: string, needs: { image: boolean; text: boolean }): Promise<JobCounts> {
  const info = await stat(source).catch(() => {
    throw new FusebatchError(`${source}: no such file or folder`);
  });
  if (info.isDirectory()) {
    const pairs = await listFolderPairs(source, needs);
    const images = needs.image ? pairs.filter((p) => p.image).length : 0;
    return { lines: pairs.length, images, uploads: images };
  }
  const ext = path.extname(source).slice(1).toLowerCase();
  let lines = 0;
  let named = 0;
  if (ext === 'jsonl') {
    const reader = createInterface({ input: createReadStream(source), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of reader) {
      if (!line.trim()) continue; // blank lines are not lines
      lines++;
      // An invalid line is still a line (an error record), with no image to read.
      if (typeof jsonObjectOrNull(line)?.image === 'string') named++;
    }
    const images = needs.image ? named : 0;
    return { lines, images, uploads: images };
  }
  if (ext === 'csv') {
    const parser = createReadStream(source).pipe(parseCsvStream(CSV_MANIFEST_OPTIONS));
    for await (const record of parser as AsyncIterable<Record<string, string>>) {
      lines++;
      if (record.image) named++;
    }
    return { lines, images: needs.image ? named : 0, uploads: 0 };
  }
  throw new FusebatchError(`${source}: expected a folder of pairs or a .jsonl or .csv manifest`);
}

export async function estimateSource(source: string, options: EstimateOptions): Promise<EstimateResult> {
  const cwd = options.cwd ?? process.cwd();
  const props: PipelineConfigInput = options.memory ? { worker: { memoryMiB: options.memory } } : {};
  let config: ReturnType<typeof resolvePipelineConfig>;
  try {
    config = resolvePipelineConfig(props, await deployContext(cwd, options.context));
  } catch (error) {
    if (error instanceof PipelineConfigError) {
      throw new FusebatchError(`invalid deploy settings: ${error.problems.join('; ')}`);
    }
    throw error;
  }
  const modelDir = path.resolve(cwd, options.model ?? config.modelDir);
  const manifest = await readManifest(modelDir).catch((error: unknown) => {
    if (!(error instanceof ModelBundleError)) throw error;
    const where = options.model ? '--model' : `the deploy setting modelDir, from ${cwd}; or give --model DIR`;
    throw new FusebatchError(`no model bundle at ${modelDir} (${where}): ${error.problems.join('; ')}`);
  });
  const { calibration: stored, file } = await loadCalibration(modelDir);
  const prices = await loadPrices(options.prices);
  const job = await countJob(source, pairNeeds(manifest));
  const measured = options.measure
    ? await (await import('../local/measure.js')).measureSourceRate(
        source,
        // Four waves of the deployment's chunks unless told.
        options.measure === true ? 4 * options.workers * config.chunkSize : options.measure,
        { modelDir, workers: options.workers, chunkSize: config.chunkSize },
      )
    : undefined;
  const calibration = measured ? withMeasuredLocalRate(stored, measured) : stored;
  const estimate = estimateJob({
    job,
    settings: config,
    calibration,
    prices,
    maskFormat: options.maskFormat ?? config.masks,
    localWorkers: options.workers,
  });
  const notes = [...estimate.notes];
  if (measured) {
    notes.push(
      `the local route is priced at the rate measured now on the job's first ${measured.pairs} pairs (${measured.pairsPerSecond.toFixed(1)} pairs/s with ${measured.workers} worker(s), ${measured.jobSeconds.toFixed(1)} s a job), not the calibration's`,
    );
  }
  // Rates belong to one graph: another model.onnx under the same name is another model.
  const hash = createHash('sha256');
  await pipeline(createReadStream(path.join(modelDir, manifest.model)), hash);
  if (hash.digest('hex') !== calibration.model.sha256) {
    notes.push(
      `the calibration was measured for another ${manifest.model} (${calibration.model.name} ${calibration.model.version}): rerun npm run bench:calibrate`,
    );
  }
  return {
    source,
    estimate: { ...estimate, notes },
    shown: options.route === 'auto' ? ROUTES : [options.route],
    model: { dir: modelDir, name: manifest.name, version: manifest.version },
    calibration: { file, measuredAt: calibration.measuredAt, machine: calibration.machine },
    prices: prices.source,
    settings: {
      chunkSize: config.chunkSize,
      workerMemoryMiB: config.worker.memoryMiB,
      concurrency: config.worker.reservedConcurrency,
    },
    measured,
  };
}

/** The calibration with its local pipeline and upload rates replaced by a run measured now. */
function withMeasuredLocalRate(calibration: Calibration, measured: LocalRate): Calibration {
  return {
    ...calibration,
    local: {
      ...calibration.local,
      uploadPairsPerSecond: measured.uploadPairsPerSecond,
      pipeline: {
        workers: measured.workers,
        chunkSize: measured.chunkSize,
        pairsPerSecond: measured.pairsPerSecond,
        jobSeconds: measured.jobSeconds,
      },
    },
  };
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
/** Dollars to the cent, or to two significant digits below a cent. */
const dollars = (n: number) =>
  n >= 100 ? `$${int(n)}` : n >= 0.01 || n === 0 ? `$${n.toFixed(2)}` : `$${n.toFixed(1 - Math.floor(Math.log10(n)))}`;

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

function routeLines(r: RouteEstimate, picked: boolean): string[] {
  const title = `${r.route}${picked ? ' (the route the stack takes)' : ''}${r.deployed ? '' : ' (not deployed)'}`;
  const t = r.s3.total;
  const lines = [
    `${title}: ${formatDuration(r.seconds)}, ${r.route === 'local' ? 'no bill (this machine)' : dollars(r.usd)}`,
  ];
  lines.push(`  basis    ${r.basis}`);
  if (r.route !== 'local') {
    lines.push(
      `  lambda   ${int(r.lambda.gbSeconds)} GB-s, ${int(r.lambda.requests)} requests: ${dollars(r.lambda.usd)}`,
    );
  }
  if (r.route === 'batch') {
    lines.push(
      `  gpu      ${r.gpu.instanceHours.toFixed(2)} instance-hours of ${r.gpu.instanceType} (${r.gpu.children} children): ${dollars(r.gpu.usd)}`,
    );
  }
  lines.push(
    `  s3       ${int(t.get)} GET/HEAD, ${int(t.put)} PUT, ${int(t.list)} LIST` +
      (r.route === 'local'
        ? ' (to the embedded server)'
        : `: ${dollars(r.s3.usd)} (outputs' PUTs ${dollars(r.s3.outputPutsUsd)})`),
  );
  lines.push(
    `           upload ${int(r.s3.upload.get)} HEAD, ${int(r.s3.upload.put)} PUT, ${int(r.s3.upload.list)} LIST; ingest ${int(r.s3.ingest.get)} GET, ${int(r.s3.ingest.put)} PUT, ${int(r.s3.ingest.list)} LIST; ` +
      `chunks ${int(r.s3.protocol.get)} GET, ${int(r.s3.protocol.put)} PUT, ${int(r.s3.protocol.list)} LIST; pairs ${int(r.s3.pairs.get)} GET, ${int(r.s3.pairs.put)} PUT`,
  );
  if (r.route === 'queue') lines.push(`  sqs      ${int(r.sqs.requests)} requests: ${dollars(r.sqs.usd)}`);
  return lines;
}

/** The estimate as people read it. */
export function formatEstimate(result: EstimateResult): string {
  const { estimate: e } = result;
  const out = [
    `${result.source}: ${int(e.lines)} pairs in ${int(e.chunks)} chunks of ${result.settings.chunkSize}; masks ${e.maskFormat}`,
    `route: ${e.route} (${e.routeReason})`,
    `model ${result.model.name} ${result.model.version}; calibration ${path.relative(process.cwd(), result.calibration.file)} (${result.calibration.measuredAt.slice(0, 10)}, ${result.calibration.machine.cpu}, ${result.calibration.machine.cores} cores)`,
    `prices: ${result.prices}`,
    '',
  ];
  for (const route of result.shown) out.push(...routeLines(e.routes[route], route === e.route));
  for (const note of e.notes) out.push(`note: ${note}`);
  return out.join('\n') + '\n';
}

/** The estimate as JSON: the shown routes only. */
export function estimateJson(result: EstimateResult): unknown {
  const { routes, ...rest } = result.estimate;
  return {
    source: result.source,
    ...rest,
    routes: Object.fromEntries(result.shown.map((r) => [r, routes[r]])),
    model: result.model,
    calibration: result.calibration,
    prices: result.prices,
    settings: result.settings,
    measured: result.measured,
  };
}

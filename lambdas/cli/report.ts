/**
 * `fusebatch report JOB --out report.html [--truth FILE]`: one self-contained HTML file of a
 * job's records: the summary and charts, then a paged gallery of the pairs with their images,
 * predictions and masks (and, with ground truth, right/wrong marks and per-task metrics).
 * Reads the records, images and masks from the bucket.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeDensePng, readTruthImage } from '../adapters/image-codec.js';
import { dataUri, overlayWebp, thumbnail } from '../adapters/report-images.js';
import { FusebatchError } from '../core/errors.js';
import { Evaluation } from '../core/evaluation.js';
import { type DenseImage, kindOf, resultOf } from '../core/kinds/index.js';
import type { ModelManifest } from '../core/manifest.js';
import { ObjectNotFoundError, type ObjectStore } from '../core/ports.js';
import { type OutputRecord, OutputRecordSchema } from '../core/records.js';
import { maskColor, type ReportAssets, renderReport } from '../core/report/html.js';
import {
  describeModels,
  type ReportOverlay,
  type ReportPair,
  reportPair,
  summarize,
} from '../core/report/report-model.js';
import { parseTruth, type Truth } from '../core/report/truth.js';
import { jobRecords } from './bucket-commands.js';

export interface ReportOptions {
  readonly job: string;
  /** The HTML file to write. */
  readonly out: string;
  /** The manifest of the model that made the records (tasks, labels, thresholds). */
  readonly manifest: ModelManifest;
  /** Ground truth, JSON Lines (picture paths relative to the file). */
  readonly truth?: string;
  readonly pageSize?: number;
  /** Pairs prepared at once (downloads and thumbnails). */
  readonly concurrency?: number;
}

export interface ReportSummaryLine {
  readonly file: string;
  readonly pairs: number;
  readonly errors: number;
  readonly bytes: number;
  readonly seconds: number;
}

export class ReportError extends FusebatchError {
  override name = 'ReportError';
}

const ASSETS_DIR = path.join(import.meta.dirname, 'report-page');

async function readAssets(): Promise<ReportAssets> {
  const [css, js] = await Promise.all([
    readFile(path.join(ASSETS_DIR, 'report.css'), 'utf8'),
    readFile(path.join(ASSETS_DIR, 'report.js'), 'utf8'),
  ]);
  return { css, js };
}

/** Runs `fn` over `items`, `limit` at a time, keeping the order of the results. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]);
    }),
  );
  return out;
}

async function getOrNull(store: ObjectStore, key: string | null): Promise<Uint8Array | null> {
  if (!key) return null;
  try {
    return await store.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
}

/** Every record of the job, validated, in id order. */
async function readJob(store: ObjectStore, job: string): Promise<OutputRecord[]> {
  const records: OutputRecord[] = [];
  for await (const raw of jobRecords(store, job)) {
    const parsed = OutputRecordSchema.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown }).id;
      throw new ReportError(
        `job ${job}: record ${JSON.stringify(id)} is not a result or error record: ${parsed.error.message}`,
      );
    }
    records.push(parsed.data);
  }
  if (!records.length) throw new ReportError(`job ${job} has no records under results/jobs/${job}/ (yet)`);
  return records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export async function writeReport(store: ObjectStore, options: ReportOptions): Promise<ReportSummaryLine> {
  const started = performance.now();
  const { manifest } = options;
  const [records, assets] = await Promise.all([readJob(store, options.job), readAssets()]);
  const truths = options.truth ? parseTruth(manifest, await readFile(options.truth, 'utf8'), options.truth) : undefined;
  const truthDir = options.truth ? path.dirname(options.truth) : '';
  const drawn = manifest.tasks.filter((t) => kindOf(t).overlay);
  const rgb = (c: readonly number[]) => `rgb(${c.join(' ')})`;

  // Dense outputs decoded for a pair's overlay are handed to the evaluation as well, not decoded twice.
  const decoded = new Map<string, DenseImage | null>();
  const evaluation = new Evaluation(
    manifest,
    (ref, form) => readTruthImage(path.join(truthDir, ref), form),
    async (id, task, key) => {
      const cached = decoded.get(`${id}\0${task}`);
      if (cached !== undefined) return cached;
      const bytes = await getOrNull(store, key);
      return bytes ? decodeDensePng(bytes) : null;
    },
  );

  const prepare = async (record: OutputRecord): Promise<ReportPair> => {
    const imageBytes = await getOrNull(store, record.inputs.image ?? null);
    // An image the pipeline could not read is shown as missing; its record says why.
    const image = imageBytes ? await thumbnail(imageBytes).catch(() => null) : null;
    const truth: Truth | undefined = truths?.get(record.id);
    const overlays: ReportOverlay[] = [];
    if (record.status === 'ok') {
      for (const [index, task] of drawn.entries()) {
        const kind = kindOf(task);
        const result = resultOf(record.tasks, task);
        if (!result) continue;
        const key = kind.denseKey?.(result) ?? null;
        const bytes = await getOrNull(store, key);
        const dense = bytes ? decodeDensePng(bytes) : null;
        decoded.set(`${record.id}\0${task.name}`, dense);
        if (!image) continue;
        const color = maskColor(index);
        const overlay = kind.overlay!(task, { result, dense, size: image, color });
        if (overlay?.kind === 'raster') {
          overlays.push({
            task: task.name,
            src: dataUri(await overlayWebp(overlay.rgba, overlay.width, overlay.height)),
          });
        } else if (overlay?.kind === 'boxes') {
          overlays.push({ task: task.name, color: rgb(color), boxes: overlay.boxes, ...image.original });
        }
      }
    }
    const scores = truth ? await evaluation.add(record, truth) : undefined;
    for (const task of drawn) decoded.delete(`${record.id}\0${task.name}`);
    const pair = reportPair(manifest, record, truth && scores ? { truth, scores } : undefined);
    return {
      ...pair,
      ...(image ? { image: { src: dataUri(image), width: image.width, height: image.height } } : {}),
      ...(overlays.length ? { overlays } : {}),
    };
  };

  const pairs = await mapLimit(records, options.concurrency ?? 8, prepare);
  const base = summarize(manifest, records);
  const summary = truths
    ? { ...base, metrics: evaluation.summary(), wrong: pairs.filter((p) => p.wrong).length }
    : base;
  const html = renderReport(
    {
      job: options.job,
      models: describeModels(records),
      generatedAt: new Date().toISOString(),
      truthFile: options.truth,
      summary,
      pairs,
      overlayTasks: drawn.map((t, i) => ({
        task: t.name,
        swatches: kindOf(t)
          .legend?.(t)
          .map((w) => ({ color: rgb(w.color), label: w.label })) ?? [
          { color: rgb(maskColor(i)), label: 'label' in t ? t.label : undefined },
        ],
      })),
      pageSize: options.pageSize,
    },
    assets,
  );
  await writeFile(options.out, html);
  return {
    file: options.out,
    pairs: records.length,
    errors: summary.errors,
    bytes: Buffer.byteLength(html),
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * `fusebatch report JOB --out report.html [--truth FILE] [--gallery N]`: one self-contained
 * HTML file of a job's records: the summary and charts of every pair, then a paged gallery of
 * at most N pairs (all of them when the job has no more; else the errors and wrong pairs first
 * and a sample of the others, gallery.ts) with their images, predictions and masks (and, with
 * ground truth, right/wrong marks and per-task metrics). Reads the records, images and masks
 * from the bucket.
 *
 * Memory stays flat as jobs grow: the records are read once, as a stream, into the summary
 * (counts and fixed-size histograms), the metrics and the gallery's sample; only the sample's
 * records are kept, and their cards are written to the file one by one. What grows with the
 * job is the ground truth's index (each pair id's place in the truth file, TruthFile) and what
 * a metric itself must keep (detection's mAP keeps each box's score and matches).
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { pMapIterable } from 'p-map';
import { decodeDensePng, readTruthImage } from '../lambdas/adapters/image-codec.js';
import { FusebatchError } from '../lambdas/core/errors.js';
import { Evaluation } from '../lambdas/core/evaluation.js';
import { kindOf, type PairScore, resultOf } from '../lambdas/core/kinds/index.js';
import type { ModelManifest } from '../lambdas/core/manifest.js';
import { ObjectNotFoundError, type ObjectStore } from '../lambdas/core/ports.js';
import { type OutputRecord, OutputRecordSchema } from '../lambdas/core/records.js';
import { DEFAULT_GALLERY, GallerySample } from '../lambdas/core/report/gallery.js';
import {
  maskColor,
  type ReportAssets,
  reportClosing,
  reportOpening,
  reportPairJson,
} from '../lambdas/core/report/html.js';
import { type ReportOverlay, type ReportPair, ReportTally, reportPair } from '../lambdas/core/report/report-model.js';
import type { Truth } from '../lambdas/core/report/truth.js';
import { dataUri, overlayWebp, thumbnail } from './adapters/report-images.js';
import { TruthFile } from './adapters/truth-file.js';
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
  /** Most pairs in the gallery (default DEFAULT_GALLERY); 0 for none. */
  readonly gallery?: number;
  /** Pairs prepared at once (downloads, masks scored, thumbnails). */
  readonly concurrency?: number;
}

export interface ReportSummaryLine {
  readonly file: string;
  readonly pairs: number;
  readonly errors: number;
  /** Pairs in the gallery. */
  readonly shown: number;
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

async function getOrNull(store: ObjectStore, key: string | null): Promise<Uint8Array | null> {
  if (!key) return null;
  try {
    return await store.get(key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
}

/** Every record of the job, validated, in listing order. */
async function* readJob(store: ObjectStore, job: string): AsyncGenerator<OutputRecord> {
  for await (const raw of jobRecords(store, job)) {
    const parsed = OutputRecordSchema.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown }).id;
      throw new ReportError(
        `job ${job}: record ${JSON.stringify(id)} is not a result or error record: ${parsed.error.message}`,
      );
    }
    yield parsed.data;
  }
}

/** A record kept for the gallery, with its verdicts when there is ground truth. */
interface Kept {
  readonly record: OutputRecord;
  readonly judged?: { readonly truth: Truth; readonly scores: ReadonlyMap<string, PairScore> };
}

export async function writeReport(store: ObjectStore, options: ReportOptions): Promise<ReportSummaryLine> {
  const started = performance.now();
  // The truth is checked whole before any record is read, but kept as an index into the file.
  const truths = options.truth ? await TruthFile.open(options.manifest, options.truth) : undefined;
  try {
    return await build(store, options, truths, started);
  } finally {
    await truths?.close();
  }
}

async function build(
  store: ObjectStore,
  options: ReportOptions,
  truths: TruthFile | undefined,
  started: number,
): Promise<ReportSummaryLine> {
  const { manifest } = options;
  const concurrency = options.concurrency ?? 8;
  const assets = await readAssets();
  const truthDir = options.truth ? path.dirname(options.truth) : '';
  const drawn = manifest.tasks.filter((t) => kindOf(t).overlay);
  const rgb = (c: readonly number[]) => `rgb(${c.join(' ')})`;

  // 1. One pass over the records: the summary, the metrics, the gallery's sample.
  const evaluation = new Evaluation(
    manifest,
    (ref, form) => readTruthImage(path.join(truthDir, ref), form),
    async (_id, _task, key) => {
      const bytes = await getOrNull(store, key);
      return bytes ? decodeDensePng(bytes) : null;
    },
  );
  const tally = new ReportTally(manifest);
  const sample = new GallerySample<Kept>(options.gallery ?? DEFAULT_GALLERY);
  let wrong = 0;
  // Records are judged a few at once (a verdict may load masks) and counted in listing order.
  const judged = pMapIterable(
    readJob(store, options.job),
    async (record): Promise<Kept> => {
      const truth = await truths?.get(record.id);
      return truth ? { record, judged: { truth, scores: await evaluation.judge(record, truth) } } : { record };
    },
    { concurrency, backpressure: concurrency },
  );
  for await (const kept of judged) {
    tally.add(kept.record);
    if (kept.judged) evaluation.count(kept.judged.scores);
    const isWrong = kept.judged ? [...kept.judged.scores.values()].some((s) => !s.right) : false;
    if (isWrong) wrong++;
    sample.offer(kept.record.id, kept.record.status === 'error' || isWrong, kept);
  }
  if (!tally.count) throw new ReportError(`job ${options.job} has no records under results/jobs/${options.job}/ (yet)`);

  // 2. The gallery's cards: images, thumbnails and overlays, for the sampled pairs only.
  const prepare = async ({ record, judged }: Kept): Promise<ReportPair> => {
    const imageBytes = await getOrNull(store, record.inputs.image ?? null);
    // An image the pipeline could not read is shown as missing; its record says why.
    const image = imageBytes ? await thumbnail(imageBytes).catch(() => null) : null;
    const overlays: ReportOverlay[] = [];
    if (record.status === 'ok' && image) {
      for (const [index, task] of drawn.entries()) {
        const kind = kindOf(task);
        const result = resultOf(record.tasks, task);
        if (!result) continue;
        // A mask or class map inline in the record (COCO RLE) needs no GET.
        const inline = kind.inlineDense?.(task, result) ?? null;
        const bytes = inline ? null : await getOrNull(store, kind.denseKey?.(result) ?? null);
        const dense = inline ?? (bytes ? decodeDensePng(bytes) : null);
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
    const pair = reportPair(manifest, record, judged);
    return {
      ...pair,
      ...(image ? { image: { src: dataUri(image), width: image.width, height: image.height } } : {}),
      ...(overlays.length ? { overlays } : {}),
    };
  };

  // 3. The file, written as it goes (under a temporary name until it is whole).
  const gallery = sample.result();
  const base = tally.summary();
  const summary = truths ? { ...base, metrics: evaluation.summary(), wrong } : base;
  const partial = `${options.out}.${process.pid}.partial`;
  const file = await open(partial, 'w');
  let bytes = 0;
  const put = async (text: string) => {
    bytes += Buffer.byteLength(text);
    await file.write(text);
  };
  try {
    await put(
      reportOpening(
        {
          job: options.job,
          models: tally.describeModels(),
          generatedAt: new Date().toISOString(),
          truthFile: options.truth,
          summary,
          overlayTasks: drawn.map((t, i) => ({
            task: t.name,
            swatches: kindOf(t)
              .legend?.(t)
              .map((w) => ({ color: rgb(w.color), label: w.label })) ?? [
              { color: rgb(maskColor(i)), label: 'label' in t ? t.label : undefined },
            ],
          })),
          pageSize: options.pageSize,
          gallery: gallery.counts,
        },
        assets,
      ),
    );
    let first = true;
    const cards = pMapIterable(gallery.items, prepare, { concurrency, backpressure: concurrency });
    for await (const card of cards) {
      await put((first ? '' : ',') + reportPairJson(card));
      first = false;
    }
    await put(reportClosing(assets));
    await file.close();
    await rename(partial, options.out);
  } catch (error) {
    await file.close().catch(() => {});
    await rm(partial, { force: true });
    throw error;
  }
  return {
    file: options.out,
    pairs: tally.count,
    errors: summary.errors,
    shown: gallery.counts.shown,
    bytes,
    seconds: (performance.now() - started) / 1000,
  };
}

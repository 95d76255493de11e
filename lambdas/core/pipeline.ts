/**
 * The pipeline: pairs in, one record per pair out, in input order.
 *
 * Pairs are grouped into batches; while the engine runs one batch, the next batch is read
 * and preprocessed, so decode/resize (sharp's thread pool) overlaps inference.
 *
 * What becomes a record: only a problem with the pair's own data (a PairError) becomes that
 * pair's error record. Anything else (the store failing to read a half or write a mask, the
 * engine dying, a bug) is not the pair's fault: it is thrown, so that the chunk (or the inbox
 * pair) fails and is retried instead of being recorded as a wrong answer. A batch whose
 * inference fails is retried pair by pair, so that only a pair that breaks the engine fails;
 * when every pair fails alone as well, the engine is at fault, and that is thrown too.
 */

import { EngineError, PairError } from './errors.js';
import { type DecodeContext, type DenseImage, kindOf, type OutputSlice } from './kinds/index.js';
import type { ImageInput, ModelManifest } from './manifest.js';
import { DEFAULT_MASK_FORMAT, type MaskFormat } from './mask-format.js';
import { type Placement, placementFor, type Size } from './placement.js';
import { cleanText, writeImageTensor } from './preprocess.js';
import type { ErrorRecord, ModelIdentity, OutputRecord, PairInputs, ResultRecord, TaskResult } from './records.js';
import { float32, type InferenceEngine, type TensorData } from './tensor.js';
import { type EncodedText, encodeText, type TextInputEncoder, textFeeds } from './text.js';

/** One input pair, with lazy access to its two halves (only those the model reads are read). */
export interface PairSource {
  readonly id: string;
  /** How the image is named in the record (a key or a path); null when there is none. */
  readonly image: string | null;
  readonly extra?: Record<string, unknown>;
  readImage(): Promise<Uint8Array>;
  readText(): Promise<Uint8Array | string>;
  /** Frees what reading the pair holds (its share of the worker's bytes in flight); called once it is prepared or failed. */
  release?(): void;
}

/** Decodes image bytes into 8-bit RGB at the model's input size (the image codec adapter). */
export interface ImageDecoder {
  decode(bytes: Uint8Array, spec: ImageInput): Promise<{ rgb: Uint8Array; original: Size }>;
}

/**
 * Keeps masks and the other dense outputs (class maps, value maps); returns the key or path a
 * record points to, or null when they are not kept.
 */
export interface MaskStore {
  save(pairId: string, taskName: string, image: DenseImage): Promise<string | null>;
}

export interface RuntimeModel {
  readonly manifest: ModelManifest;
  readonly identity: ModelIdentity;
  readonly engine: InferenceEngine;
  /** The tokenizer or word vectors of the text input; absent when the model reads no text. */
  readonly text?: TextInputEncoder;
  /** Pairs a call at most: the manifest's maxBatchSize, or 1 when the graph fixes its batch at 1. */
  readonly batchLimit: number;
}

export interface PipelineOptions {
  readonly model: RuntimeModel;
  readonly images: ImageDecoder;
  readonly masks?: MaskStore;
  /** Masks and class maps inline as COCO RLE, as PNGs in `masks`, or both (default DEFAULT_MASK_FORMAT). */
  readonly maskFormat?: MaskFormat;
  /** At most the manifest's maxBatchSize; defaults to it. */
  readonly batchSize?: number;
  /** Record timing fields (not part of a record's identity). */
  readonly timing?: boolean;
}

/** A pair read and preprocessed: its image (when the model reads one) and its encoded text (likewise). */
interface Prepared {
  readonly source: PairSource;
  readonly inputs: PairInputs;
  readonly image?: { readonly rgb: Uint8Array; readonly original: Size; readonly placement: Placement };
  readonly text?: EncodedText;
  readonly started: number;
}

type Slot = { kind: 'ready'; pair: Prepared } | { kind: 'failed'; record: ErrorRecord };

const noMasks: MaskStore = { save: async () => null };

export function errorRecord(
  model: RuntimeModel,
  id: string,
  inputs: PairInputs,
  e: PairError,
  extra?: Record<string, unknown>,
): ErrorRecord {
  return {
    id,
    inputs,
    ...(extra ? { extra } : {}),
    model: model.identity,
    engine: model.engine.name,
    status: 'error',
    error: { code: e.code, message: e.message },
  };
}

/** The inputs a record names: only the halves the model reads. */
function recordInputs(manifest: ModelManifest, image: string | null, text: string | null): PairInputs {
  return {
    ...(manifest.inputs.image ? { image } : {}),
    ...(manifest.inputs.text ? { text } : {}),
  };
}

async function prepare(pair: PairSource, options: PipelineOptions): Promise<Slot> {
  const { manifest } = options.model;
  const { image: imageSpec, text: textSpec } = manifest.inputs;
  const started = performance.now();
  let text: string | null = null;
  try {
    // Text first: it is cheap, and a pair with no usable text needs no image decode.
    let encoded: EncodedText | undefined;
    if (textSpec) {
      text = cleanText(await pair.readText());
      encoded = encodeText(textSpec, options.model.text!, text);
    }
    let image: Prepared['image'];
    if (imageSpec) {
      const { rgb, original } = await options.images.decode(await pair.readImage(), imageSpec);
      image = { rgb, original, placement: placementFor(imageSpec.resize, original, imageSpec) };
    }
    return {
      kind: 'ready',
      pair: { source: pair, inputs: recordInputs(manifest, pair.image, text), image, text: encoded, started },
    };
  } catch (error) {
    // Only the pair's own data makes a record; a storage or codec failure fails the run.
    if (!(error instanceof PairError)) throw error;
    const inputs = recordInputs(manifest, pair.image, text);
    return { kind: 'failed', record: errorRecord(options.model, pair.id, inputs, error, pair.extra) };
  } finally {
    // The image's bytes are decoded (or refused) by now: only its pixels at model size remain.
    pair.release?.();
  }
}

function feedsFor(pairs: readonly Prepared[], model: RuntimeModel): Record<string, TensorData> {
  const { image, text } = model.manifest.inputs;
  const n = pairs.length;
  const feeds: Record<string, TensorData> = {};
  if (image) {
    const size = 3 * image.width * image.height;
    const pixels = new Float32Array(n * size);
    for (const [i, p] of pairs.entries()) writeImageTensor(p.image!.rgb, image, pixels, i * size);
    const dims = image.layout === 'nchw' ? [n, 3, image.height, image.width] : [n, image.height, image.width, 3];
    feeds[image.tensor] = float32(pixels, dims);
  }
  if (text) {
    const dim = model.text?.kind === 'vectors' ? model.text.dim : 0;
    Object.assign(
      feeds,
      textFeeds(
        text,
        pairs.map((p) => p.text!),
        dim,
      ),
    );
  }
  return feeds;
}

/** Row `index` of a batched output, with its dimensions after the batch axis (integers as float32). */
function sliceOf(output: TensorData, index: number): OutputSlice {
  const [n, ...rest] = output.dims;
  const size = output.data.length / n;
  const values =
    output.type === 'float32'
      ? output.data.subarray(index * size, (index + 1) * size)
      : Float32Array.from(output.data.subarray(index * size, (index + 1) * size), Number);
  return { values, dims: rest };
}

async function decodePair(
  pair: Prepared,
  outputs: Record<string, TensorData>,
  index: number,
  options: PipelineOptions,
  inferenceMs: number,
): Promise<OutputRecord> {
  const { model } = options;
  const masks = options.masks ?? noMasks;
  // A model without an image has no task that needs one (the manifest sees to it).
  const none = { width: 0, height: 0 };
  const ctx: DecodeContext = {
    original: pair.image?.original ?? none,
    input: model.manifest.inputs.image ?? none,
    placement: pair.image?.placement ?? { scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0 },
    maskFormat: options.maskFormat ?? DEFAULT_MASK_FORMAT,
    saveDense: (taskName, image) => masks.save(pair.source.id, taskName, image),
  };
  try {
    const tasks: Record<string, TaskResult> = {};
    for (const task of model.manifest.tasks) {
      const kind = kindOf(task);
      const slices = kind.outputs(task).map(({ tensor }) => {
        const output = outputs[tensor];
        if (!output) throw new EngineError(`the engine returned no output '${tensor}'`);
        return sliceOf(output, index);
      });
      tasks[task.name] = await kind.decode(task, slices, ctx);
    }
    const record: ResultRecord = {
      id: pair.source.id,
      inputs: pair.inputs,
      ...(pair.source.extra ? { extra: pair.source.extra } : {}),
      model: model.identity,
      engine: model.engine.name,
      status: 'ok',
      tasks,
    };
    if (options.timing) record.timing = { ms: Math.round(performance.now() - pair.started + inferenceMs) };
    return record;
  } catch (error) {
    // A mask that cannot be stored is the store's failure, never the pair's.
    if (!(error instanceof PairError)) throw error;
    return errorRecord(model, pair.source.id, pair.inputs, error, pair.source.extra);
  }
}

/**
 * The engine feeds for a batch of pairs, exactly as the pipeline builds them (for
 * measuring inference alone); a pair that cannot be prepared is an error.
 */
export async function prepareFeeds(
  pairs: readonly PairSource[],
  options: PipelineOptions,
): Promise<Record<string, TensorData>> {
  const slots = await Promise.all(pairs.map((p) => prepare(p, options)));
  const ready = slots.map((s) => {
    if (s.kind === 'failed') throw new Error(`pair ${s.record.id} cannot be prepared: ${s.record.error.message}`);
    return s.pair;
  });
  return feedsFor(ready, options.model);
}

/**
 * The last batch each engine ran without error, as a way to build its feeds again: when every
 * pair of a batch fails alone, running it again tells a healthy engine (the pairs are at fault)
 * from a broken one (it is not). Rebuilt rather than kept, because feeds are handed over to the
 * engine (an engine in a worker thread moves their memory there instead of copying it).
 */
const provenFeeds = new WeakMap<InferenceEngine, () => Record<string, TensorData>>();

async function runAndRemember(engine: InferenceEngine, pairs: readonly Prepared[], model: RuntimeModel) {
  const outputs = await engine.run(feedsFor(pairs, model), { handOver: true });
  provenFeeds.set(engine, () => feedsFor(pairs, model));
  return outputs;
}

/** Whether the engine still runs feeds it ran before; false when it has run none. */
async function engineStillWorks(engine: InferenceEngine): Promise<boolean> {
  const feeds = provenFeeds.get(engine);
  if (!feeds) return false;
  return engine.run(feeds(), { handOver: true }).then(
    () => true,
    () => false,
  );
}

/**
 * Runs one batch; if the engine fails on it, each pair runs alone so only the culprit fails.
 * An EngineError (the engine is gone) is thrown; so is a batch whose every pair fails alone
 * unless the engine still runs what it ran before (then those pairs are at fault).
 */
async function inferBatch(slots: Slot[], options: PipelineOptions): Promise<OutputRecord[]> {
  const { model } = options;
  const ready = slots.flatMap((s) => (s.kind === 'ready' ? [s.pair] : []));
  const decoded = new Map<Prepared, OutputRecord>();
  if (ready.length) {
    const started = performance.now();
    let outputs: Record<string, TensorData> | null = null;
    try {
      outputs = await runAndRemember(model.engine, ready, model);
    } catch (error) {
      if (error instanceof EngineError) throw error;
      outputs = null;
    }
    const perPair = (performance.now() - started) / ready.length;
    if (outputs) {
      const batchOutputs = outputs;
      const records = await Promise.all(ready.map((p, i) => decodePair(p, batchOutputs, i, options, perPair)));
      for (const [i, p] of ready.entries()) decoded.set(p, records[i]);
    } else {
      const failures = new Map<Prepared, unknown>();
      for (const p of ready) {
        let alone: Record<string, TensorData>;
        try {
          alone = await runAndRemember(model.engine, [p], model);
        } catch (error) {
          if (error instanceof EngineError) throw error;
          failures.set(p, error);
          continue;
        }
        decoded.set(p, await decodePair(p, alone, 0, options, perPair));
      }
      if (failures.size === ready.length && !(await engineStillWorks(model.engine))) {
        const first = [...failures.values()][0];
        const message = first instanceof Error ? first.message : String(first);
        throw new EngineError(`inference failed on every pair of a batch of ${ready.length}: ${message}`, {
          cause: first,
        });
      }
      for (const [p, error] of failures) {
        const message = error instanceof Error ? error.message : String(error);
        const failure = new PairError('INFERENCE_FAILED', `inference failed on this pair: ${message}`, {
          cause: error,
        });
        decoded.set(p, errorRecord(model, p.source.id, p.inputs, failure, p.source.extra));
      }
    }
  }
  return slots.map((s) => (s.kind === 'failed' ? s.record : decoded.get(s.pair)!));
}

async function* inBatches<T>(items: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Every pair in, exactly one record out per pair, in input order. */
export async function* runPipeline(
  pairs: AsyncIterable<PairSource> | Iterable<PairSource>,
  options: PipelineOptions,
): AsyncGenerator<OutputRecord> {
  const max = options.model.batchLimit;
  const batchSize = Math.min(options.batchSize ?? max, max);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batch size must be a positive integer, got ${options.batchSize}`);
  }
  const batches = inBatches(pairs, batchSize);
  const prepareNext = async () => {
    const next = await batches.next();
    return next.done ? null : Promise.all(next.value.map((p) => prepare(p, options)));
  };
  // Three stages overlap: batch k+2 is decoded from its images, k+1 is inferred, and k's
  // outputs become records (masks encoded and stored) while it is yielded. Records still come
  // out in input order. The .catch calls only keep an early exit from leaving a rejection unhandled.
  let upcoming = prepareNext();
  upcoming.catch(() => undefined);
  let previous: Promise<OutputRecord[]> | null = null;
  for (;;) {
    const slots = await upcoming;
    if (!slots) break;
    upcoming = prepareNext();
    upcoming.catch(() => undefined);
    const current = inferBatch(slots, options);
    current.catch(() => undefined);
    if (previous) yield* await previous;
    previous = current;
  }
  if (previous) yield* await previous;
}

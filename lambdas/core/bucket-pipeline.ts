/**
 * The pipeline over a bucket: single pairs from inbox/, manifest jobs from jobs/, chunks run
 * by workers. Everything outside (the store, the queue, Batch, the model, PNG encoding)
 * comes in through ports, so the same code runs in Lambda, on Batch and locally.
 */
import { ByteBudget, DEFAULT_INPUT_BYTES_IN_FLIGHT } from './byte-budget.js';
import { chunkDone, recordChunkDone } from './completion.js';
import { PairError } from './errors.js';
import { bareEtag, type HalfVersion, halvesOf, outputsVersion, writeIfHalvesCurrent } from './inbox.js';
import { stopJob } from './job-ingest.js';
import type { InvalidLine, JobPair } from './job-manifest.js';
import {
  errorLimit,
  type JobStatusDocument,
  JobStatusDocumentSchema,
  readDocument,
  type StalledDocument,
  treeOf,
} from './job-status.js';
import { jobKeys, type KeyKind, PREFIXES, pairKeys } from './keys.js';
import { pairNeeds } from './manifest.js';
import type { MaskFormat } from './mask-format.js';
import {
  errorRecord,
  type ImageDecoder,
  type MaskStore,
  type PairSource,
  type RuntimeModel,
  runPipeline,
} from './pipeline.js';
import {
  type ChunkMessage,
  ObjectNotFoundError,
  type ObjectStore,
  type ObjectStream,
  ObjectTooLargeError,
  type StoredObject,
} from './ports.js';
import { MAX_IMAGE_BYTES, MAX_TEXT_BYTES } from './preprocess.js';
import type { OutputRecord } from './records.js';

export interface BucketPipelineDeps {
  readonly store: ObjectStore;
  /** Image bytes held at once by this worker; the process's shared budget when absent. */
  readonly inputBytes?: ByteBudget;
  readonly model: RuntimeModel;
  readonly images: ImageDecoder;
  /** A mask store writing to the bucket under the given keys (PNG encoding is an adapter's). */
  readonly masks: (keyFor: (pairId: string, task: string) => string) => MaskStore;
  /** Masks and class maps inline as COCO RLE, as PNG objects, or both (default: the pipeline's). */
  readonly maskFormat?: MaskFormat;
}

export type PairOutcome =
  | { readonly outcome: 'ignored'; readonly key: string; readonly reason: string }
  | { readonly outcome: 'waiting'; readonly id: string; readonly missing: 'image' | 'text' }
  | { readonly outcome: 'processed'; readonly id: string; readonly status: OutputRecord['status'] }
  /** Not written: a half changed while the pair ran, and the event of its new version writes the record. */
  | { readonly outcome: 'superseded'; readonly id: string; readonly reason: string };

const jsonl = (records: readonly unknown[]) => records.map((r) => JSON.stringify(r) + '\n').join('');

/** One budget for the whole process (a Lambda instance, a Batch child, local workers): memory is per process. */
const processInputBytes = new ByteBudget(DEFAULT_INPUT_BYTES_IN_FLIGHT);

/**
 * A pair whose halves are read from the store; a missing half is that pair's error (if the model
 * reads it). Its image's bytes count against `budget` from the response's headers until the
 * pipeline releases the pair (captions are at most 64 KiB, and not counted).
 */
export function storePair(
  store: ObjectStore,
  id: string,
  imageKey: string | null,
  text: { key: string } | { inline: string } | null,
  extra?: Record<string, unknown>,
  budget: ByteBudget = processInputBytes,
): PairSource {
  let held = 0;
  // Once per pair: a body re-read after a reset reserves nothing more.
  const reserve = async (bytes: number) => {
    if (held) return;
    await budget.acquire(bytes);
    held = bytes;
  };
  const read = async (key: string, half: 'image' | 'text') => {
    try {
      return await store.get(
        key,
        half === 'image' ? { maxBytes: MAX_IMAGE_BYTES, reserve } : { maxBytes: MAX_TEXT_BYTES },
      );
    } catch (error) {
      if (error instanceof ObjectNotFoundError) {
        throw new PairError(half === 'image' ? 'IMAGE_MISSING' : 'TEXT_MISSING', `no object at ${key}`);
      }
      if (error instanceof ObjectTooLargeError) {
        const code = half === 'image' ? 'IMAGE_TOO_MANY_BYTES' : 'TEXT_TOO_MANY_BYTES';
        throw new PairError(code, `${half} is ${error.size} bytes; the limit is ${error.maxBytes} (not downloaded)`);
      }
      throw error;
    }
  };
  return {
    id,
    image: imageKey,
    extra,
    readImage: () =>
      imageKey ? read(imageKey, 'image') : Promise.reject(new PairError('IMAGE_MISSING', `no image for ${id}`)),
    readText: () =>
      !text
        ? Promise.reject(new PairError('TEXT_MISSING', `no text for ${id}`))
        : 'inline' in text
          ? Promise.resolve(text.inline)
          : read(text.key, 'text'),
    release: () => {
      budget.release(held);
      held = 0;
    },
  };
}

async function runOne(pair: PairSource, deps: BucketPipelineDeps, masks: MaskStore): Promise<OutputRecord> {
  const options = { model: deps.model, images: deps.images, masks, maskFormat: deps.maskFormat };
  for await (const record of runPipeline([pair], options)) return record;
  throw new Error('the pipeline returned no record');
}

/** Reads of a half whose body broke off, as S3ObjectStore.get makes them. */
const BODY_READ_ATTEMPTS = 4;

/** A half was replaced (or deleted) after the listing that found it: a newer event runs the pair. */
class HalfChangedError extends Error {
  override name = 'HalfChangedError';
}

/**
 * The bytes of exactly the version a listing showed (compared by ETag), so that the versions a
 * record is written for are the ones it was made from. Too large is refused from the listing.
 */
async function readListedVersion(store: ObjectStore, half: StoredObject, which: 'image' | 'text'): Promise<Uint8Array> {
  const maxBytes = which === 'image' ? MAX_IMAGE_BYTES : MAX_TEXT_BYTES;
  if (half.size > maxBytes) {
    const code = which === 'image' ? 'IMAGE_TOO_MANY_BYTES' : 'TEXT_TOO_MANY_BYTES';
    throw new PairError(code, `${which} is ${half.size} bytes; the limit is ${maxBytes} (not downloaded)`);
  }
  // A body that breaks off is read again, as store.get does (the SDK retries only up to the headers).
  for (let attempt = 1; ; attempt++) {
    let stream: ObjectStream;
    try {
      stream = await store.read(half.key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError)
        throw new HalfChangedError(`${half.key} was deleted after it was listed`);
      throw error;
    }
    if (bareEtag(stream.etag) !== bareEtag(half.etag ?? '')) {
      await stream.body[Symbol.asyncIterator]().return?.(); // closes an S3 body unread
      throw new HalfChangedError(`${half.key} was replaced after it was listed`);
    }
    const pieces: Uint8Array[] = [];
    let bytes = 0;
    try {
      for await (const piece of stream.body) {
        pieces.push(piece);
        bytes += piece.length;
        if (bytes > half.size) break; // not the listed object after all; leaving the loop closes the body
      }
    } catch (error) {
      if (attempt >= BODY_READ_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      continue;
    }
    if (bytes !== half.size) throw new HalfChangedError(`${half.key} is not the size it was listed with`);
    return Buffer.concat(pieces);
  }
}

/**
 * An inbox pair read at the versions its listing showed (a half it lacks is that pair's error).
 * Its image's listed size counts against `budget` before the download, until the pipeline
 * releases the pair, as storePair's does from the response's headers.
 */
function inboxPair(
  store: ObjectStore,
  id: string,
  image: StoredObject | null,
  text: StoredObject | null,
  budget: ByteBudget = processInputBytes,
): PairSource {
  let held = 0;
  return {
    id,
    image: image?.key ?? null,
    async readImage() {
      if (!image) throw new PairError('IMAGE_MISSING', `no image for ${id}`);
      // An image over the limit is refused unread, so it reserves nothing.
      if (!held && image.size <= MAX_IMAGE_BYTES) {
        await budget.acquire(image.size);
        held = image.size;
      }
      return readListedVersion(store, image, 'image');
    },
    readText: () =>
      text
        ? readListedVersion(store, text, 'text')
        : Promise.reject(new PairError('TEXT_MISSING', `no text for ${id}`)),
    release: () => {
      budget.release(held);
      held = 0;
    },
  };
}

/**
 * inbox/: when every half the model reads exists, runs the pair and writes
 * results/pairs/<id>.json, but only while those halves are still the versions it read
 * (writeIfHalvesCurrent): an older version's record never lands after a newer one's. A half the
 * model does not read is ignored, never awaited.
 */
export async function handlePairObject(
  kind: Extract<KeyKind, { kind: 'pair-image' | 'pair-text' }>,
  deps: BucketPipelineDeps,
): Promise<PairOutcome> {
  const { id } = kind;
  const needs = pairNeeds(deps.model.manifest);
  if (kind.kind === 'pair-image' && !needs.image) {
    return { outcome: 'ignored', key: kind.key, reason: 'the model reads no image: inbox/ takes <id>.txt alone' };
  }
  if (kind.kind === 'pair-text' && !needs.text) {
    return { outcome: 'ignored', key: kind.key, reason: 'the model reads no text: inbox/ takes <id>.<image> alone' };
  }
  // One listing finds both halves, whatever the case of their extensions (`cat.PNG`, `cat.TXT`).
  const halves = halvesOf(await deps.store.list(`${PREFIXES.inbox}${id}.`), id);
  const images = needs.image ? halves.images : [];
  const texts = needs.text ? halves.texts : [];
  if (needs.image && !images.length) return { outcome: 'waiting', id, missing: 'image' };
  if (needs.text && !texts.length) return { outcome: 'waiting', id, missing: 'text' };
  const read: HalfVersion[] = [...images, ...texts].map((o) => ({ key: o.key, etag: o.etag ?? '' }));
  let record: OutputRecord;
  if (images.length > 1 || texts.length > 1) {
    const [half, keys] = images.length > 1 ? ['image', images] : ['caption', texts];
    const message = `more than one ${half} for id '${id}': ${keys.map((o) => o.key).join(', ')}`;
    const inputs = {
      ...(needs.image ? { image: images.map((o) => o.key).join(',') } : {}),
      ...(needs.text ? { text: null } : {}),
    };
    record = errorRecord(deps.model, id, inputs, new PairError('INPUT_INVALID', message));
  } else {
    const pair = inboxPair(deps.store, id, images[0] ?? null, texts[0] ?? null, deps.inputBytes);
    try {
      const version = outputsVersion(read, deps.model.identity);
      const masks = deps.masks((pairId, task) => pairKeys.mask(pairId, version, task));
      record = await runOne(pair, deps, masks);
    } catch (error) {
      if (error instanceof HalfChangedError) return { outcome: 'superseded', id, reason: error.message };
      throw error;
    }
  }
  const write = await writeIfHalvesCurrent(deps.store, id, jsonl([record]), read, needs);
  if (!write.written) return { outcome: 'superseded', id, reason: write.reason };
  return { outcome: 'processed', id, status: record.status };
}

/** A chunk's line as ingest wrote it: a pair, or an invalid manifest line with its message. */
type ChunkLine = JobPair | (Omit<InvalidLine, 'message'> & { readonly invalid: string });

export interface ChunkOutcome {
  readonly results: number;
  readonly errors: number;
  /** Whether this chunk completed the job. */
  readonly complete: boolean;
  /** Not run: done already at this generation (a redelivery), or the job was stopped. */
  readonly skipped?: 'done' | 'stopped';
}

async function readStatusDocument(store: ObjectStore, job: string): Promise<JobStatusDocument> {
  const doc = await readDocument(store, jobKeys.status(job), JobStatusDocumentSchema);
  // A chunk is only ever sent after its job's status document is written: this is not the data's fault.
  if (!doc) throw new Error(`job ${job} has no status document at ${jobKeys.status(job)}`);
  return doc;
}

/**
 * Runs one chunk: results part, masks beside it, errors part, then its completion marker (which
 * completes the job when it is the last). Same input, same keys, same bytes: a chunk run again
 * overwrites itself. A chunk done already at its generation, or of a stopped job, is skipped.
 * Anything but a pair's own data failing throws, and the chunk is retried.
 */
export async function runChunk(
  message: ChunkMessage,
  deps: BucketPipelineDeps,
  preloaded?: JobStatusDocument,
): Promise<ChunkOutcome> {
  const { job, chunk, generation } = message;
  const { store } = deps;
  const doc = preloaded ?? (await readStatusDocument(store, job));
  const tree = treeOf(doc);
  const [stopped, done] = await Promise.all([
    store.exists(jobKeys.stop(job)),
    chunkDone(store, tree, chunk, generation),
  ]);
  if (stopped || done) return { results: 0, errors: 0, complete: false, skipped: stopped ? 'stopped' : 'done' };
  const lines = new TextDecoder()
    .decode(await store.get(jobKeys.chunk(job, chunk)))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ChunkLine);
  const needs = pairNeeds(deps.model.manifest);
  const pairs = lines.flatMap((p) =>
    'invalid' in p
      ? []
      : [
          storePair(
            store,
            p.id,
            p.image ?? null,
            p.text === undefined ? null : { inline: p.text },
            p.extra,
            deps.inputBytes,
          ),
        ],
  );
  const masks = deps.masks((id, task) => jobKeys.mask(job, id, task));
  const records = runPipeline(pairs, { model: deps.model, images: deps.images, masks, maskFormat: deps.maskFormat });
  const results: OutputRecord[] = [];
  const errors: OutputRecord[] = [];
  // Records in line order: invalid lines where they stand, pairs as the pipeline yields them (in order).
  for (const line of lines) {
    let record: OutputRecord;
    if ('invalid' in line) {
      const inputs = { ...(needs.image ? { image: line.image } : {}), ...(needs.text ? { text: line.text } : {}) };
      record = errorRecord(deps.model, line.id, inputs, new PairError('INPUT_INVALID', line.invalid));
    } else {
      const next = await records.next();
      if (next.done) throw new Error('the pipeline returned fewer records than pairs');
      record = next.value;
    }
    (record.status === 'ok' ? results : errors).push(record);
  }
  await store.put(jobKeys.part(job, chunk), jsonl(results), 'application/x-ndjson');
  await store.put(jobKeys.errors(job, chunk), jsonl(errors), 'application/x-ndjson');
  const limit = errorLimit(doc);
  const progress = await recordChunkDone(
    store,
    tree,
    chunk,
    generation,
    { results: results.length, errors: errors.length },
    async (seen) => {
      if (seen.errors <= limit) return;
      const reason = `more than ${limit} error records (${doc.toleratedFailurePercent} % of ${doc.lines} lines tolerated): ${seen.errors} so far`;
      await stopJob(store, job, { state: 'failed', reason, at: new Date().toISOString() });
    },
  );
  if (progress.jobComplete) await store.put(jobKeys.success(job), '', 'text/plain');
  return { results: results.length, errors: errors.length, complete: progress.jobComplete };
}

/** Marks a chunk stalled (its last attempt failed, or may not finish), with the reason status shows. */
export async function markStalled(store: ObjectStore, message: ChunkMessage, reason: string): Promise<void> {
  const doc: StalledDocument = {
    chunk: message.chunk,
    generation: message.generation,
    reason,
    at: new Date().toISOString(),
  };
  await store.put(jobKeys.stalled(message.job, message.chunk), JSON.stringify(doc) + '\n', 'application/json');
}

/** The chunks one child of a Batch array job runs: every `count`-th chunk from its index. */
export function shardChunks(totalChunks: number, shard: { index: number; count: number }): number[] {
  if (!Number.isInteger(shard.count) || shard.count < 1 || shard.index < 0 || shard.index >= shard.count) {
    throw new RangeError(`shard ${shard.index} of ${shard.count} does not exist`);
  }
  const chunks: number[] = [];
  for (let chunk = shard.index; chunk < totalChunks; chunk += shard.count) chunks.push(chunk);
  return chunks;
}

export interface ShardOutcome {
  readonly chunks: number[];
  /** Chunks already done (a retried child skips them). */
  readonly skipped: number[];
  readonly failed: { readonly chunk: number; readonly reason: string }[];
  /** Chunks not started because the deadline was near (the retried child runs them). */
  readonly unfinished: number[];
  /** The job was cancelled or failed its threshold: the rest of the shard is not run. */
  readonly stopped: boolean;
}

export interface ShardOptions {
  /** Epoch ms by which the child must have exited (before Batch's timeout kills it unretried). */
  readonly deadline?: number;
  /** This is the child's last attempt: chunks it leaves are marked stalled, with their reason. */
  readonly lastAttempt?: boolean;
  readonly now?: () => number;
}

const reasonOf = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/**
 * Runs a Batch child's shard of a job, chunk by chunk, with the same runChunk as the Lambda
 * worker. A failing chunk does not stop its neighbours; no chunk is started that the deadline
 * might cut short. The caller exits non-zero when anything is left, so that Batch retries the
 * child, which then skips the chunks already done.
 */
export async function runShard(
  job: string,
  shard: { index: number; count: number },
  deps: BucketPipelineDeps,
  options: ShardOptions = {},
): Promise<ShardOutcome> {
  const now = options.now ?? Date.now;
  const doc = await readStatusDocument(deps.store, job);
  const chunks = shardChunks(doc.chunks, shard);
  const outcome: ShardOutcome = { chunks, skipped: [], failed: [], unfinished: [], stopped: false };
  let longest = 0;
  for (const [i, chunk] of chunks.entries()) {
    // Leave room for the longest chunk so far, and a half again.
    if (options.deadline !== undefined && now() + 1.5 * longest > options.deadline) {
      outcome.unfinished.push(...chunks.slice(i));
      break;
    }
    const started = now();
    try {
      const result = await runChunk({ job, chunk, route: 'batch', generation: 0 }, deps, doc);
      if (result.skipped === 'stopped') return { ...outcome, stopped: true };
      if (result.skipped === 'done') outcome.skipped.push(chunk);
    } catch (error) {
      outcome.failed.push({ chunk, reason: reasonOf(error) });
    }
    longest = Math.max(longest, now() - started);
  }
  if (options.lastAttempt) {
    for (const { chunk, reason } of outcome.failed)
      await markStalled(deps.store, { job, chunk, route: 'batch', generation: 0 }, reason);
    for (const chunk of outcome.unfinished) {
      const reason = "the Batch child's last attempt ran out of time before this chunk";
      await markStalled(deps.store, { job, chunk, route: 'batch', generation: 0 }, reason);
    }
  }
  return outcome;
}

/**
 * The pipeline over a bucket: single pairs from inbox/, manifest jobs from jobs/, chunks run
 * by workers. Everything outside (the store, the queue, Batch, the model, PNG encoding)
 * comes in through ports, so the same code runs in Lambda, on Batch and locally.
 */
import { chunkDone, recordChunkDone } from './completion.js';
import { PairError } from './errors.js';
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
import { classifyKey, jobKeys, type KeyKind, PREFIXES, pairKeys } from './keys.js';
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
import { type ChunkMessage, ObjectNotFoundError, type ObjectStore, ObjectTooLargeError } from './ports.js';
import { MAX_IMAGE_BYTES, MAX_TEXT_BYTES } from './preprocess.js';
import type { OutputRecord } from './records.js';

export interface BucketPipelineDeps {
  readonly store: ObjectStore;
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
  | { readonly outcome: 'processed'; readonly id: string; readonly status: OutputRecord['status'] };

const jsonl = (records: readonly unknown[]) => records.map((r) => JSON.stringify(r) + '\n').join('');

/** A pair whose halves are read from the store; a missing half is that pair's error (if the model reads it). */
export function storePair(
  store: ObjectStore,
  id: string,
  imageKey: string | null,
  text: { key: string } | { inline: string } | null,
  extra?: Record<string, unknown>,
): PairSource {
  const read = async (key: string, half: 'image' | 'text') => {
    try {
      return await store.get(key, { maxBytes: half === 'image' ? MAX_IMAGE_BYTES : MAX_TEXT_BYTES });
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
  };
}

async function runOne(pair: PairSource, deps: BucketPipelineDeps, masks: MaskStore): Promise<OutputRecord> {
  const options = { model: deps.model, images: deps.images, masks, maskFormat: deps.maskFormat };
  for await (const record of runPipeline([pair], options)) return record;
  throw new Error('the pipeline returned no record');
}

/**
 * inbox/: when every half the model reads exists, runs the pair and writes
 * results/pairs/<id>.json. A half the model does not read is ignored, never awaited.
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
  const siblings = (await deps.store.list(`${PREFIXES.inbox}${id}.`)).map((o) => classifyKey(o.key));
  const halves = (kind: 'pair-image' | 'pair-text') =>
    siblings.filter((k) => k.kind === kind && k.id === id).map((k) => k.key);
  const images = needs.image ? halves('pair-image') : [];
  const texts = needs.text ? halves('pair-text') : [];
  if (needs.image && !images.length) return { outcome: 'waiting', id, missing: 'image' };
  if (needs.text && !texts.length) return { outcome: 'waiting', id, missing: 'text' };
  let record: OutputRecord;
  if (images.length > 1 || texts.length > 1) {
    const [half, keys] = images.length > 1 ? ['image', images] : ['caption', texts];
    const message = `more than one ${half} for id '${id}': ${keys.join(', ')}`;
    const inputs = {
      ...(needs.image ? { image: images.join(',') } : {}),
      ...(needs.text ? { text: null } : {}),
    };
    record = errorRecord(deps.model, id, inputs, new PairError('INPUT_INVALID', message));
  } else {
    const pair = storePair(deps.store, id, images[0] ?? null, needs.text ? { key: texts[0] } : null);
    record = await runOne(pair, deps, deps.masks(pairKeys.mask));
  }
  await deps.store.put(pairKeys.result(id), jsonl([record]), 'application/x-ndjson');
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
      : [storePair(store, p.id, p.image ?? null, p.text === undefined ? null : { inline: p.text }, p.extra)],
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

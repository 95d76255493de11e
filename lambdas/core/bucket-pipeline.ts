/**
 * The pipeline over a bucket: single pairs from inbox/, manifest jobs from jobs/, chunks run
 * by workers. Everything outside (the store, the queue, Batch, the model, PNG encoding)
 * comes in through ports, so the same code runs in Lambda, on Batch and locally.
 */
import { PairError } from './errors.js';
import { chunkPairs, type JobPair, parseJobManifest } from './job-manifest.js';
import { deriveJobStatus, type JobStatus, type JobStatusDocument, JobStatusDocumentSchema } from './job-status.js';
import { classifyKey, jobKeys, type KeyKind, PREFIXES, pairKeys } from './keys.js';
import { pairNeeds } from './manifest.js';
import {
  errorRecord,
  type ImageDecoder,
  type MaskStore,
  type PairSource,
  type RuntimeModel,
  runPipeline,
} from './pipeline.js';
import { type BatchRoute, type ChunkMessage, type ChunkQueue, ObjectNotFoundError, type ObjectStore } from './ports.js';
import type { OutputRecord } from './records.js';

export interface BucketPipelineDeps {
  readonly store: ObjectStore;
  readonly model: RuntimeModel;
  readonly images: ImageDecoder;
  /** A mask store writing to the bucket under the given keys (PNG encoding is an adapter's). */
  readonly masks: (keyFor: (pairId: string, task: string) => string) => MaskStore;
}

export interface IngestDeps {
  readonly store: ObjectStore;
  /** Its identity and engine name go into the records of invalid manifest lines. */
  readonly model: RuntimeModel;
  readonly queue: ChunkQueue;
  readonly batch: BatchRoute;
  /** Pairs per chunk (one queue message, one Batch shard). */
  readonly chunkSize: number;
  /** Jobs with more pairs than this go to the Batch route. */
  readonly batchThreshold: number;
  readonly now?: () => Date;
}

export type IngestOutcome =
  | { readonly outcome: 'ignored'; readonly key: string; readonly reason: string }
  | { readonly outcome: 'waiting'; readonly id: string; readonly missing: 'image' | 'text' }
  | { readonly outcome: 'processed'; readonly id: string; readonly status: OutputRecord['status'] }
  | {
      readonly outcome: 'job-routed';
      readonly job: string;
      readonly route: ChunkMessage['route'];
      readonly chunks: number;
    }
  | { readonly outcome: 'job-already-ingested'; readonly job: string };

const jsonl = (records: readonly unknown[]) => records.map((r) => JSON.stringify(r) + '\n').join('');

/** A pair whose halves are read from the store; a missing half is that pair's error (if the model reads it). */
export function storePair(
  store: ObjectStore,
  id: string,
  imageKey: string | null,
  text: { key: string } | { inline: string } | null,
  extra?: Record<string, unknown>,
): PairSource {
  const read = async (key: string, missing: 'IMAGE_MISSING' | 'TEXT_MISSING') => {
    try {
      return await store.get(key);
    } catch (error) {
      if (error instanceof ObjectNotFoundError) throw new PairError(missing, `no object at ${key}`);
      throw error;
    }
  };
  return {
    id,
    image: imageKey,
    extra,
    readImage: () =>
      imageKey ? read(imageKey, 'IMAGE_MISSING') : Promise.reject(new PairError('IMAGE_MISSING', `no image for ${id}`)),
    readText: () =>
      !text
        ? Promise.reject(new PairError('TEXT_MISSING', `no text for ${id}`))
        : 'inline' in text
          ? Promise.resolve(text.inline)
          : read(text.key, 'TEXT_MISSING'),
  };
}

async function runOne(pair: PairSource, deps: BucketPipelineDeps, masks: MaskStore): Promise<OutputRecord> {
  for await (const record of runPipeline([pair], { model: deps.model, images: deps.images, masks })) return record;
  throw new Error('the pipeline returned no record');
}

/**
 * inbox/: when every half the model reads exists, runs the pair and writes
 * results/pairs/<id>.json. A half the model does not read is ignored, never awaited.
 */
export async function handlePairObject(
  kind: Extract<KeyKind, { kind: 'pair-image' | 'pair-text' }>,
  deps: BucketPipelineDeps,
): Promise<IngestOutcome> {
  const { id } = kind;
  const needs = pairNeeds(deps.model.manifest);
  if (kind.kind === 'pair-image' && !needs.image) {
    return { outcome: 'ignored', key: kind.key, reason: 'the model reads no image: inbox/ takes <id>.txt alone' };
  }
  if (kind.kind === 'pair-text' && !needs.text) {
    return { outcome: 'ignored', key: kind.key, reason: 'the model reads no text: inbox/ takes <id>.<image> alone' };
  }
  const textKey = pairKeys.text(id);
  const [hasText, siblings] = await Promise.all([
    needs.text ? deps.store.exists(textKey) : false,
    needs.image ? deps.store.list(`${PREFIXES.inbox}${id}.`) : [],
  ]);
  const images = siblings
    .map((o) => classifyKey(o.key))
    .filter((k) => k.kind === 'pair-image' && k.id === id)
    .map((k) => k.key);
  if (needs.image && !images.length) return { outcome: 'waiting', id, missing: 'image' };
  if (needs.text && !hasText) return { outcome: 'waiting', id, missing: 'text' };
  let record: OutputRecord;
  if (images.length > 1) {
    const message = `more than one image for id '${id}': ${images.join(', ')}`;
    const inputs = { image: images.join(','), ...(needs.text ? { text: null } : {}) };
    record = errorRecord(deps.model, id, inputs, new PairError('INPUT_INVALID', message));
  } else {
    const pair = storePair(deps.store, id, images[0] ?? null, needs.text ? { key: textKey } : null);
    record = await runOne(pair, deps, deps.masks(pairKeys.mask));
  }
  await deps.store.put(pairKeys.result(id), jsonl([record]), 'application/x-ndjson');
  return { outcome: 'processed', id, status: record.status };
}

/** jobs/: validates the manifest, writes the status document and chunks, and routes them. */
export async function ingestJob(
  kind: Extract<KeyKind, { kind: 'job-manifest' }>,
  deps: IngestDeps,
): Promise<IngestOutcome> {
  const { job } = kind;
  const statusKey = jobKeys.status(job);
  if (await deps.store.exists(statusKey)) return { outcome: 'job-already-ingested', job };
  const body = new TextDecoder().decode(await deps.store.get(kind.key));
  const needs = pairNeeds(deps.model.manifest);
  const { pairs, invalid } = parseJobManifest(body, kind.format, needs);
  const chunks = chunkPairs(pairs, deps.chunkSize);
  const route: ChunkMessage['route'] = pairs.length > deps.batchThreshold ? 'batch' : 'queue';
  // Invalid lines are records too: written once, before any chunk can complete the job.
  const invalidRecords = invalid.map((line) =>
    errorRecord(
      deps.model,
      line.id,
      { ...(needs.image ? { image: line.image } : {}), ...(needs.text ? { text: line.text } : {}) },
      new PairError('INPUT_INVALID', line.message),
    ),
  );
  await deps.store.put(jobKeys.invalid(job), jsonl(invalidRecords), 'application/x-ndjson');
  await Promise.all(chunks.map((c, i) => deps.store.put(jobKeys.chunk(job, i), jsonl(c), 'application/x-ndjson')));
  const doc: JobStatusDocument = {
    job,
    manifest: kind.key,
    route,
    lines: pairs.length + invalid.length,
    invalid: invalid.length,
    chunkSizes: chunks.map((c) => c.length),
    createdAt: (deps.now?.() ?? new Date()).toISOString(),
  };
  await deps.store.put(statusKey, JSON.stringify(doc, null, 2) + '\n', 'application/json');
  if (chunks.length === 0) await deps.store.put(jobKeys.success(job), '', 'text/plain');
  else if (route === 'batch') await deps.batch.submit(job, chunks.length);
  else await deps.queue.send(chunks.map((_, chunk) => ({ job, chunk, route })));
  return { outcome: 'job-routed', job, route, chunks: chunks.length };
}

/**
 * @param countFailures read the errors parts to count error records; completeness needs only
 * the listing, so a worker checking for the last chunk skips the reads.
 */
export async function readJobStatus(store: ObjectStore, job: string, countFailures = true): Promise<JobStatus> {
  const doc = JobStatusDocumentSchema.parse(JSON.parse(new TextDecoder().decode(await store.get(jobKeys.status(job)))));
  // parts/ and errors/ only: _masks/ may hold thousands of keys.
  const [results, errors] = await Promise.all([
    store.list(jobKeys.partsPrefix(job)),
    store.list(jobKeys.errorsPrefix(job)),
  ]);
  const parts = [...results, ...errors];
  const errorLines = new Map<number, number>();
  await Promise.all(
    parts
      .filter((p) => countFailures && /\/errors\/\d{5}\.jsonl$/.test(p.key))
      .map(async (p) => {
        const chunk = Number(p.key.slice(-11, -6));
        const text = new TextDecoder().decode(await store.get(p.key));
        errorLines.set(chunk, text.split('\n').filter(Boolean).length);
      }),
  );
  return deriveJobStatus(doc, parts, errorLines);
}

/**
 * Runs one chunk: results part first, masks beside it, errors part last (its existence marks
 * the chunk done). Same input, same keys, same bytes: a retried chunk overwrites itself.
 * The chunk that finds every chunk done writes the job's _SUCCESS marker.
 */
export async function runChunk(
  message: ChunkMessage,
  deps: BucketPipelineDeps,
): Promise<{ results: number; errors: number; complete: boolean }> {
  const { job, chunk } = message;
  const lines = new TextDecoder()
    .decode(await deps.store.get(jobKeys.chunk(job, chunk)))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as JobPair);
  const pairs = lines.map((p) =>
    storePair(deps.store, p.id, p.image ?? null, p.text === undefined ? null : { inline: p.text }, p.extra),
  );
  const results: OutputRecord[] = [];
  const errors: OutputRecord[] = [];
  const masks = deps.masks((id, task) => jobKeys.mask(job, id, task));
  for await (const record of runPipeline(pairs, { model: deps.model, images: deps.images, masks })) {
    (record.status === 'ok' ? results : errors).push(record);
  }
  await deps.store.put(jobKeys.part(job, chunk), jsonl(results), 'application/x-ndjson');
  await deps.store.put(jobKeys.errors(job, chunk), jsonl(errors), 'application/x-ndjson');
  const status = await readJobStatus(deps.store, job, false);
  if (status.complete) await deps.store.put(jobKeys.success(job), '', 'text/plain');
  return { results: results.length, errors: errors.length, complete: status.complete };
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
}

/**
 * Runs a Batch child's shard of a job, chunk by chunk, with the same runChunk as the Lambda
 * worker. A failing chunk does not stop its neighbours; the caller exits non-zero so that
 * Batch retries the child, which then skips the chunks already done.
 */
export async function runShard(
  job: string,
  shard: { index: number; count: number },
  deps: BucketPipelineDeps,
): Promise<ShardOutcome> {
  const doc = JobStatusDocumentSchema.parse(
    JSON.parse(new TextDecoder().decode(await deps.store.get(jobKeys.status(job)))),
  );
  const chunks = shardChunks(doc.chunkSizes.length, shard);
  const done = new Set((await deps.store.list(jobKeys.errorsPrefix(job))).map((o) => o.key));
  const skipped = chunks.filter((chunk) => done.has(jobKeys.errors(job, chunk)));
  const failed: { chunk: number; reason: string }[] = [];
  for (const chunk of chunks) {
    if (skipped.includes(chunk)) continue;
    try {
      await runChunk({ job, chunk, route: 'batch' }, deps);
    } catch (error) {
      failed.push({ chunk, reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
    }
  }
  return { chunks, skipped, failed };
}

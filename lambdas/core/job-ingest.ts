/**
 * Manifest jobs in: a manifest streamed into chunk objects, a status document, and the chunks
 * routed (SQS for the Lambda workers, an AWS Batch array job for large jobs); and redrives.
 *
 * Ingest is resumable and single: one invocation at a time holds the job's lease (a
 * conditional write), a retried invocation skips what is written (the status document marks
 * the chunks complete) and sends only what `routed.json` says is not yet routed. Chunks are
 * idempotent, so a message sent twice costs a skipped run, never a second record.
 */

import { DEFAULT_FANOUT, readProgress } from './completion.js';
import { RETRYABLE_CODES, RetryLaterError } from './errors.js';
import { isInvalid, ManifestUnreadableError, readManifestLines } from './job-manifest.js';
import {
  errorLimit,
  type JobStatusDocument,
  JobStatusDocumentSchema,
  LeaseDocumentSchema,
  type RoutedDocument,
  RoutedDocumentSchema,
  readDocument,
  StalledDocumentSchema,
  type StopDocument,
  StopDocumentSchema,
  treeOf,
} from './job-status.js';
import { jobKeys, type KeyKind, PREFIXES } from './keys.js';
import { type ModelManifest, pairNeeds } from './manifest.js';
import {
  type BatchRoute,
  type ChunkMessage,
  type ChunkQueue,
  ObjectNotFoundError,
  type ObjectStore,
  type StoredObject,
} from './ports.js';

export interface IngestDeps {
  readonly store: ObjectStore;
  /** What the model reads decides which fields a manifest line needs. */
  readonly model: { readonly manifest: ModelManifest };
  readonly queue: ChunkQueue;
  readonly batch: BatchRoute;
  /** Lines per chunk (one queue message, one unit of a Batch shard). */
  readonly chunkSize: number;
  /** Jobs with more lines than this go to the Batch route. */
  readonly batchThreshold: number;
  /** How long an ingest may hold a job (the function's timeout): a crashed one's lease then lapses. */
  readonly leaseSeconds?: number;
  /** Default share of error records (in %) past which a job fails; a manifest's metadata may set its own. */
  readonly toleratedFailurePercent?: number;
  /** Children per node of the completion tree (tests use small ones). */
  readonly fanout?: number;
  /** Chunk objects written at once. */
  readonly writeConcurrency?: number;
  /** Messages sent per routing step (`routed.json` is saved after each); 1,000 by default. */
  readonly routingStep?: number;
  readonly now?: () => Date;
}

export type JobIngestOutcome =
  | {
      readonly outcome: 'job-routed';
      readonly job: string;
      readonly route: ChunkMessage['route'];
      readonly chunks: number;
    }
  | { readonly outcome: 'job-already-ingested'; readonly job: string }
  | { readonly outcome: 'job-refused'; readonly key: string; readonly job?: string; readonly reason: string }
  | { readonly outcome: 'job-failed-at-ingest'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'job-redriven'; readonly job: string; readonly generation: number; readonly chunks: number }
  | { readonly outcome: 'redrive-ignored'; readonly job: string; readonly reason: string };

/** User metadata on a manifest (`x-amz-meta-tolerated-failure-percent`) that sets the job's threshold. */
export const TOLERATED_FAILURE_METADATA = 'tolerated-failure-percent';

/** Messages sent per step of routing; `routed.json` is updated after each. */
const ROUTING_STEP = 1000;

const jsonl = (records: readonly unknown[]) => records.map((r) => JSON.stringify(r) + '\n').join('');

/** Runs tasks with at most `limit` in flight; `add` waits for room, so memory stays bounded. */
export class BoundedTasks {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;
  constructor(private readonly limit: number) {}

  async add(task: () => Promise<void>): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.failure) throw this.failure;
    const run = task().then(
      () => void this.running.delete(run),
      (error) => {
        this.running.delete(run);
        this.failure ??= error;
      },
    );
    this.running.add(run);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure) throw this.failure;
  }
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts).toString('utf8');
}

/** Takes the job's lease: the new lease's ETag, or null while another ingest holds it. */
async function acquireLease(store: ObjectStore, job: string, seconds: number, now: number): Promise<string | null> {
  const lease = JSON.stringify({ owner: crypto.randomUUID(), expiresAt: now + seconds * 1000 });
  const created = await store.putIf(jobKeys.lease(job), lease, { ifNoneMatch: '*' }, 'application/json');
  if (created) return created;
  let current: { etag: string; expiresAt: number };
  try {
    const stream = await store.read(jobKeys.lease(job));
    current = { etag: stream.etag, ...LeaseDocumentSchema.parse(JSON.parse(await readAll(stream.body))) };
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
  if (current.expiresAt > now) return null;
  // A lapsed lease (its holder crashed, or released it): take it over unless someone else just did.
  return store.putIf(jobKeys.lease(job), lease, { ifMatch: current.etag }, 'application/json');
}

async function releaseLease(store: ObjectStore, job: string, etag: string, failure?: unknown): Promise<void> {
  const reason =
    failure === undefined
      ? undefined
      : failure instanceof Error
        ? `${failure.name}: ${failure.message}`
        : String(failure);
  const released = JSON.stringify({
    owner: 'released',
    expiresAt: 0,
    ...(reason ? { failedAt: Date.now(), reason } : {}),
  });
  await store.putIf(jobKeys.lease(job), released, { ifMatch: etag }, 'application/json').catch(() => null);
}

/** Stops a job for good (cancelled, or failed its threshold); the first stop wins. */
export async function stopJob(store: ObjectStore, job: string, stop: StopDocument): Promise<boolean> {
  const written = await store.putIf(
    jobKeys.stop(job),
    JSON.stringify(stop, null, 2) + '\n',
    { ifNoneMatch: '*' },
    'application/json',
  );
  return written !== null;
}

/** The object at exactly this key, from a one-key listing (its ETag and date without reading it), or null. */
async function listedObject(store: ObjectStore, key: string): Promise<StoredObject | null> {
  const [first] = await store.list(key, { limit: 1 });
  return first?.key === key ? first : null;
}

const bareEtag = (etag: string | undefined) => (etag ?? '').replace(/^W\//, '').replace(/"/g, '');

/**
 * A manifest event for a job whose routing is complete: S3 delivering an event twice, or an
 * upload under a name that is taken (the same key replaced, or jobs/<job>.csv beside
 * jobs/<job>.jsonl). The first is the object the job was ingested from (same key, ETag and
 * date); anything else is refused where `fusebatch status` shows it, never dropped in silence.
 * The dates are S3's own, in whole seconds: the same bytes uploaded again within the second are
 * the same upload to anyone. A job that failed before its status document has only routed.json's
 * date to go by: an upload after it is another one.
 */
async function alreadyIngested(
  kind: Extract<KeyKind, { kind: 'job-manifest' }>,
  deps: IngestDeps,
  now: Date,
): Promise<JobIngestOutcome> {
  const { job, key } = kind;
  const [upload, routed, doc, stop] = await Promise.all([
    listedObject(deps.store, key),
    listedObject(deps.store, jobKeys.routed(job)),
    readDocument(deps.store, jobKeys.status(job), JobStatusDocumentSchema),
    readDocument(deps.store, jobKeys.stop(job), StopDocumentSchema),
  ]);
  if (!upload) return { outcome: 'job-already-ingested', job };
  const uploaded = upload.lastModified?.getTime() ?? 0;
  const sameObject = doc
    ? doc.manifest === key &&
      bareEtag(doc.manifestEtag) === bareEtag(upload.etag) &&
      (doc.manifestLastModified === undefined || Date.parse(doc.manifestLastModified) === uploaded)
    : uploaded <= (routed?.lastModified?.getTime() ?? Infinity);
  if (sameObject) return { outcome: 'job-already-ingested', job };
  const what = doc
    ? `from ${doc.manifest}, ingested ${doc.createdAt}`
    : `${stop ? `${stop.state}: ${stop.reason}` : 'ingested'}`;
  const reason = `${key} was not run: job ${job} already exists (${what}); upload it under a new job name`;
  const refusal = { key, etag: upload.etag ?? '', reason, at: now.toISOString() };
  await deps.store.put(
    jobKeys.refusal(job, bareEtag(upload.etag) || String(now.getTime())),
    JSON.stringify(refusal, null, 2) + '\n',
    'application/json',
  );
  return { outcome: 'job-refused', job, key, reason };
}

/** Streams the manifest into chunk objects and writes the status document. */
async function writeChunks(
  kind: Extract<KeyKind, { kind: 'job-manifest' }>,
  deps: IngestDeps,
  now: Date,
): Promise<JobStatusDocument> {
  const { job } = kind;
  const source = await deps.store.read(kind.key);
  const percent = Number(source.metadata[TOLERATED_FAILURE_METADATA] ?? deps.toleratedFailurePercent ?? 100);
  if (!(percent >= 0 && percent <= 100)) {
    throw new RangeError(`${kind.key}: metadata ${TOLERATED_FAILURE_METADATA} must be a percentage (0 to 100)`);
  }
  const writes = new BoundedTasks(deps.writeConcurrency ?? 16);
  let chunk: unknown[] = [];
  let chunks = 0;
  let lines = 0;
  let invalid = 0;
  const flush = async () => {
    const body = jsonl(chunk);
    const key = jobKeys.chunk(job, chunks++);
    chunk = [];
    await writes.add(() => deps.store.put(key, body, 'application/x-ndjson'));
  };
  for await (const line of readManifestLines(source.body, kind.format, pairNeeds(deps.model.manifest))) {
    lines++;
    if (isInvalid(line)) {
      invalid++;
      chunk.push({ line: line.line, id: line.id, image: line.image, text: line.text, invalid: line.message });
    } else chunk.push(line);
    if (chunk.length === deps.chunkSize) await flush();
  }
  if (chunk.length) await flush();
  await writes.drain();
  const doc: JobStatusDocument = {
    job,
    manifest: kind.key,
    manifestEtag: source.etag,
    ...(source.lastModified ? { manifestLastModified: source.lastModified.toISOString() } : {}),
    route: lines > deps.batchThreshold ? 'batch' : 'queue',
    lines,
    invalid,
    chunkSize: deps.chunkSize,
    chunks,
    fanout: deps.fanout ?? DEFAULT_FANOUT,
    toleratedFailurePercent: percent,
    createdAt: now.toISOString(),
  };
  await deps.store.put(jobKeys.status(job), JSON.stringify(doc, null, 2) + '\n', 'application/json');
  return doc;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Routes what is not routed yet, recording progress so that a retry resumes where this stopped. */
async function routeJob(
  doc: JobStatusDocument,
  routed: RoutedDocument | null,
  deps: IngestDeps,
): Promise<JobIngestOutcome> {
  const { job } = doc;
  const save = (state: RoutedDocument) =>
    deps.store.put(jobKeys.routed(job), JSON.stringify(state) + '\n', 'application/json');
  let state: RoutedDocument = routed ?? { sent: 0, complete: false };
  if (doc.chunks === 0) {
    await deps.store.put(jobKeys.success(job), '', 'text/plain');
  } else if (doc.route === 'batch') {
    if (!state.batchJobId) {
      state = { ...state, batchJobId: await deps.batch.submit(job, doc.chunks) };
      await save(state);
    }
  } else {
    const step = deps.routingStep ?? ROUTING_STEP;
    for (let from = state.sent; from < doc.chunks; from += step) {
      const to = Math.min(doc.chunks, from + step);
      await deps.queue.send(range(from, to).map((chunk) => ({ job, chunk, route: 'queue' as const, generation: 0 })));
      state = { ...state, sent: to };
      if (to < doc.chunks) await save(state);
    }
  }
  await save({ ...state, complete: true });
  return { outcome: 'job-routed', job, route: doc.route, chunks: doc.chunks };
}

/**
 * jobs/<job>.jsonl|csv: streams the manifest into chunks and routes them, once. A retry (Lambda's
 * own, or a redrive) resumes; while another invocation holds the job this throws
 * RetryLaterError, so that Lambda retries it rather than dropping the job.
 */
export async function ingestJob(
  kind: Extract<KeyKind, { kind: 'job-manifest' }>,
  deps: IngestDeps,
): Promise<JobIngestOutcome> {
  const { job } = kind;
  const now = deps.now?.() ?? new Date();
  const routedBefore = await readDocument(deps.store, jobKeys.routed(job), RoutedDocumentSchema);
  if (routedBefore?.complete) return alreadyIngested(kind, deps, now);
  const lease = await acquireLease(deps.store, job, deps.leaseSeconds ?? 900, now.getTime());
  if (!lease)
    throw new RetryLaterError(`job ${job} is being ingested by another invocation; this one is retried later`);
  try {
    // Read again under the lease: the holder before us may have finished.
    const routed = await readDocument(deps.store, jobKeys.routed(job), RoutedDocumentSchema);
    if (routed?.complete) {
      await releaseLease(deps.store, job, lease);
      return alreadyIngested(kind, deps, now);
    }
    const failAtIngest = async (reason: string): Promise<JobIngestOutcome> => {
      await stopJob(deps.store, job, { state: 'failed', reason, at: now.toISOString() });
      await deps.store.put(jobKeys.routed(job), JSON.stringify({ sent: 0, complete: true }) + '\n', 'application/json');
      await releaseLease(deps.store, job, lease);
      return { outcome: 'job-failed-at-ingest', job, reason };
    };
    let doc = await readDocument(deps.store, jobKeys.status(job), JobStatusDocumentSchema);
    if (!doc) {
      // Records under the name with no state: an earlier job's, whose state was deleted. Running
      // would mix the two jobs' records, so the name stays taken until both are gone.
      if ((await deps.store.list(jobKeys.results(job), { limit: 1 })).length) {
        return failAtIngest(
          `${jobKeys.results(job)} holds records of an earlier job named ${job} whose state is gone: delete ${jobKeys.results(job)} and state/jobs/${job}/, or upload ${kind.key} under a new job name`,
        );
      }
      try {
        doc = await writeChunks(kind, deps, now);
      } catch (error) {
        if (!(error instanceof ManifestUnreadableError)) throw error;
        // The file's own fault: retrying cannot help. The job fails, and status says why.
        return failAtIngest(`${kind.key}: ${error.message}`);
      }
    }
    if (doc.invalid > errorLimit(doc)) {
      return failAtIngest(
        `${doc.invalid} of ${doc.lines} lines are invalid, more than the ${doc.toleratedFailurePercent} % of error records tolerated`,
      );
    }
    const outcome = await routeJob(doc, routed, deps);
    await releaseLease(deps.store, job, lease);
    return outcome;
  } catch (error) {
    await releaseLease(deps.store, job, lease, error);
    throw error;
  }
}

/** The next redrive generation of a job, taken with a conditional write so two redrives never share one. */
async function nextGeneration(store: ObjectStore, job: string): Promise<number> {
  for (let n = (await store.list(jobKeys.generationsPrefix(job))).length + 1; ; n++) {
    if (await store.putIf(jobKeys.generation(job, n), '', { ifNoneMatch: '*' })) return n;
  }
}

/** A redrive request, as `fusebatch redrive` writes it. */
export interface RedriveRequest {
  readonly id: string;
  /** Also re-send every chunk not done, stalled or not (for chunks whose message was lost). */
  readonly allMissing?: boolean;
}

/**
 * jobs/<job>.redrive: ingests again a job whose ingest stopped, routes what routing left, and
 * re-runs (with a new generation, through the queue) every stalled chunk and every chunk with a
 * retryable error record. A chunk's keys do not change, so each pair keeps exactly one record.
 */
export async function redriveJob(
  kind: Extract<KeyKind, { kind: 'job-redrive' }>,
  deps: IngestDeps,
): Promise<JobIngestOutcome> {
  const { job, key } = kind;
  const source = await deps.store.read(key);
  const request = JSON.parse(await readAll(source.body)) as RedriveRequest;
  const requestId = String(request.id ?? source.etag).replace(/[^A-Za-z0-9_-]/g, '');
  if (!(await deps.store.putIf(jobKeys.redriveTaken(job, requestId), '', { ifNoneMatch: '*' }))) {
    return { outcome: 'redrive-ignored', job, reason: `redrive request ${requestId} was already taken` };
  }
  const doc = await readDocument(deps.store, jobKeys.status(job), JobStatusDocumentSchema);
  const routed = await readDocument(deps.store, jobKeys.routed(job), RoutedDocumentSchema);
  if (!doc || !routed?.complete) {
    // Ingest stopped before routing everything: resume it on whichever manifest exists.
    for (const format of ['jsonl', 'csv'] as const) {
      const manifest = `${PREFIXES.jobs}${job}.${format}`;
      if (await deps.store.exists(manifest))
        return ingestJob({ kind: 'job-manifest', job, format, key: manifest }, deps);
    }
    return { outcome: 'redrive-ignored', job, reason: `no manifest jobs/${job}.jsonl or .csv to ingest` };
  }
  // Only the stop matters here; the progress below is read once, in full.
  const stop = await readDocument(deps.store, jobKeys.stop(job), StopDocumentSchema);
  if (stop) return { outcome: 'redrive-ignored', job, reason: `the job is ${stop.state}: ${stop.reason}` };
  const progress = await readProgress(deps.store, treeOf(doc), { full: true });
  const rerun = new Set<number>();
  const stalled = await deps.store.list(jobKeys.stalledPrefix(job));
  const missing = new Set(progress.missing);
  for (const object of stalled) {
    const marker = await readDocument(deps.store, object.key, StalledDocumentSchema);
    if (marker && missing.has(marker.chunk)) rerun.add(marker.chunk);
  }
  if (request.allMissing) for (const chunk of progress.missing) rerun.add(chunk);
  const withErrors = [...progress.leaves.values()].filter((m) => m.errors > 0);
  const reads = new BoundedTasks(8);
  for (const marker of withErrors) {
    await reads.add(async () => {
      const text = new TextDecoder().decode(await deps.store.get(jobKeys.errors(job, marker.node)));
      if (text.split('\n').some((line) => line && RETRYABLE_CODES.includes(JSON.parse(line).error?.code)))
        rerun.add(marker.node);
    });
  }
  await reads.drain();
  if (!rerun.size) return { outcome: 'redrive-ignored', job, reason: 'no stalled chunk and no retryable error record' };
  const generation = await nextGeneration(deps.store, job);
  const chunks = [...rerun].sort((a, b) => a - b);
  for (let i = 0; i < chunks.length; i += ROUTING_STEP) {
    await deps.queue.send(
      chunks.slice(i, i + ROUTING_STEP).map((chunk) => ({ job, chunk, route: 'queue' as const, generation })),
    );
  }
  return { outcome: 'job-redriven', job, generation, chunks: chunks.length };
}

/**
 * A job's documents and its progress. What a job is is written once, at ingest (the status
 * document); what is done is read from the completion markers (completion.ts), never from a
 * counter that two workers update. Reading costs one LIST per incomplete node of the
 * completion tree plus a few small documents: constant in the job's size for a finished job.
 */
import * as z from 'zod';
import { DEFAULT_FANOUT, readProgress, type TreeJob } from './completion.js';
import { jobKeys } from './keys.js';
import { ObjectNotFoundError, type ObjectStore, ROUTES } from './ports.js';

export const JobStatusDocumentSchema = z.object({
  job: z.string(),
  manifest: z.string(),
  /** The manifest's ETag when it was read: a manifest replaced under the same name is another job. */
  manifestEtag: z.string().default(''),
  /** And its date: with the ETag, what tells the same upload from another one of the same bytes. */
  manifestLastModified: z.string().optional(),
  route: z.enum(ROUTES),
  /** Lines in the manifest: pairs + invalid lines; every line is in a chunk. */
  lines: z.number().int().min(0),
  invalid: z.number().int().min(0),
  /** Lines per chunk; the last chunk holds the rest. */
  chunkSize: z.number().int().min(1),
  chunks: z.number().int().min(0),
  /** Children per node of the completion tree. */
  fanout: z.number().int().min(2).default(DEFAULT_FANOUT),
  /** Error records tolerated, as a percentage of lines; past it the job stops as `failed`. */
  toleratedFailurePercent: z.number().min(0).max(100).default(100),
  createdAt: z.string(),
});
export type JobStatusDocument = z.infer<typeof JobStatusDocumentSchema>;

/** How far a (possibly retried) ingest got in routing the job's chunks. */
export const RoutedDocumentSchema = z.object({
  /** Chunks [0, sent) are on the queue. */
  sent: z.number().int().min(0),
  /** The AWS Batch job, once submitted. */
  batchJobId: z.string().optional(),
  complete: z.boolean(),
});
export type RoutedDocument = z.infer<typeof RoutedDocumentSchema>;

export const StopDocumentSchema = z.object({
  state: z.enum(['cancelled', 'failed']),
  reason: z.string(),
  at: z.string(),
});
export type StopDocument = z.infer<typeof StopDocumentSchema>;

export const StalledDocumentSchema = z.object({
  chunk: z.number().int().min(0),
  generation: z.number().int().min(0),
  reason: z.string(),
  at: z.string(),
});
export type StalledDocument = z.infer<typeof StalledDocumentSchema>;

/** A manifest upload that was not run because its job name was taken. */
export const RefusalDocumentSchema = z.object({
  key: z.string(),
  etag: z.string(),
  reason: z.string(),
  at: z.string(),
});
export type RefusalDocument = z.infer<typeof RefusalDocumentSchema>;

export const LeaseDocumentSchema = z.object({
  owner: z.string(),
  expiresAt: z.number(),
  /** Set when the last holder failed: Lambda retries the event for a while (twice, minutes apart). */
  failedAt: z.number().optional(),
  reason: z.string().optional(),
});

/** How long after a failed ingest its retry is still expected (Lambda retries after about 1 and 2 minutes). */
export const INGEST_RETRY_WINDOW_MS = 5 * 60_000;

export const JOB_STATES = ['ingesting', 'running', 'stalled', 'complete', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobStatus {
  readonly job: string;
  /**
   * `ingesting` (chunks being written or routed), `running`, `stalled` (a chunk failed its
   * last attempt, or routing stopped: `fusebatch redrive` re-runs it), `complete`, `failed`
   * (more error records than tolerated) or `cancelled`.
   */
  readonly state: JobState;
  readonly route: JobStatusDocument['route'] | null;
  /** Every line of the manifest. */
  readonly total: number;
  /** Lines that ended as a record (result or error), invalid lines included. */
  readonly done: number;
  /** Of those, error records. */
  readonly failed: number;
  readonly pending: number;
  readonly chunks: { readonly total: number; readonly done: number; readonly stalled: number };
  /** Stalled chunks with their reasons (the first 20). */
  readonly stalled: readonly { readonly chunk: number; readonly reason: string; readonly at: string }[];
  /** Why the job stopped (cancelled, or failed its threshold). */
  readonly stop?: StopDocument;
  /** Manifests uploaded under this job's name after it was ingested, which were not run (the first 20). */
  readonly refused?: readonly RefusalDocument[];
  /** Routing, while incomplete. */
  readonly routing?: { readonly sent: number; readonly of: number };
  readonly started: string | null;
  /** When the last chunk finished; null until complete. */
  readonly finished: string | null;
  readonly complete: boolean;
  /** Requests the read made (it stays small whatever the job's size). */
  readonly requests: number;
}

const decoder = new TextDecoder();

/** A JSON document parsed by its schema, or null when the key does not exist. */
export async function readDocument<T>(store: ObjectStore, key: string, schema: z.ZodType<T>): Promise<T | null> {
  try {
    return schema.parse(JSON.parse(decoder.decode(await store.get(key))));
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
}

export const treeOf = (doc: JobStatusDocument): TreeJob => ({ job: doc.job, chunks: doc.chunks, fanout: doc.fanout });

/** The number of error records past which a job fails. */
export const errorLimit = (doc: JobStatusDocument) => Math.floor((doc.toleratedFailurePercent / 100) * doc.lines);

/** @throws ObjectNotFoundError when nothing of the job exists (not ingested, or no such job). */
export async function readJobStatus(store: ObjectStore, job: string, now = Date.now()): Promise<JobStatus> {
  const [doc, routed, lease, stop, stalledKeys, refusalKeys] = await Promise.all([
    readDocument(store, jobKeys.status(job), JobStatusDocumentSchema),
    readDocument(store, jobKeys.routed(job), RoutedDocumentSchema),
    readDocument(store, jobKeys.lease(job), LeaseDocumentSchema),
    readDocument(store, jobKeys.stop(job), StopDocumentSchema),
    store.list(jobKeys.stalledPrefix(job)),
    store.list(jobKeys.refusalsPrefix(job), { limit: 20 }),
  ]);
  const refusals = await Promise.all(refusalKeys.map((o) => readDocument(store, o.key, RefusalDocumentSchema)));
  const refused = refusals.filter((r): r is RefusalDocument => r !== null);
  // the four documents, the stalled/ and refusals/ listings, and each refusal
  let requests = 6 + refusals.length;
  const refusedField = refused.length ? { refused } : {};
  if (!doc) {
    // Nothing ran yet: stopped before the chunks were written (a manifest that cannot be read),
    // or an ingest is writing them, is due to be retried, or stopped.
    if (!stop && !lease) throw new ObjectNotFoundError(jobKeys.status(job));
    const live =
      !!lease &&
      (lease.expiresAt > now || (lease.failedAt !== undefined && now - lease.failedAt < INGEST_RETRY_WINDOW_MS));
    const stalledIngest = {
      chunk: -1,
      reason: `the ingest stopped before writing the chunks${lease?.reason ? ` (${lease.reason})` : ''}: fusebatch redrive ingests again`,
      at: '',
    };
    return {
      job,
      state: stop ? stop.state : live ? 'ingesting' : 'stalled',
      route: null,
      total: 0,
      done: 0,
      failed: 0,
      pending: 0,
      chunks: { total: 0, done: 0, stalled: 0 },
      stalled: stop || live ? [] : [stalledIngest],
      ...(stop ? { stop } : {}),
      ...refusedField,
      started: null,
      finished: null,
      complete: false,
      requests,
    };
  }
  const progress = await readProgress(store, treeOf(doc));
  requests += progress.lists;
  const missing = new Set(progress.missing);
  const stalledDocs = await Promise.all(
    stalledKeys.slice(0, 1000).map((o) => readDocument(store, o.key, StalledDocumentSchema)),
  );
  requests += stalledDocs.length;
  const stalled = stalledDocs.filter((s): s is StalledDocument => s !== null && missing.has(s.chunk));
  const retrying = lease?.failedAt !== undefined && now - lease.failedAt < INGEST_RETRY_WINDOW_MS;
  const routingStopped = routed?.complete !== true && !(lease && lease.expiresAt > now) && !retrying;
  const state: JobState = progress.complete
    ? 'complete'
    : stop
      ? stop.state
      : stalled.length || (routingStopped && doc.chunks > 0)
        ? 'stalled'
        : routed?.complete
          ? 'running'
          : 'ingesting';
  const routingReason =
    routingStopped && !progress.complete
      ? [
          {
            chunk: routed?.sent ?? 0,
            reason: `routing stopped after ${routed?.sent ?? 0} of ${doc.chunks} chunks: fusebatch redrive routes the rest`,
            at: '',
          },
        ]
      : [];
  const done = Math.min(doc.lines, progress.doneChunks === doc.chunks ? doc.lines : doneLines(doc, progress.missing));
  return {
    job,
    state,
    route: doc.route,
    total: doc.lines,
    done,
    failed: progress.errors,
    pending: doc.lines - done,
    chunks: { total: doc.chunks, done: progress.doneChunks, stalled: stalled.length },
    stalled: [...routingReason, ...stalled.slice(0, 20).map(({ chunk, reason, at }) => ({ chunk, reason, at }))],
    ...(stop ? { stop } : {}),
    ...refusedField,
    ...(routed?.complete ? {} : { routing: { sent: routed?.sent ?? 0, of: doc.chunks } }),
    started: doc.createdAt,
    finished: progress.complete ? (progress.finished ?? new Date(doc.createdAt)).toISOString() : null,
    complete: progress.complete,
    requests,
  };
}

/** Lines of a chunk: chunkSize, and the rest for the last one. */
export const chunkLines = (doc: JobStatusDocument, chunk: number) =>
  Math.min(doc.chunkSize, doc.lines - chunk * doc.chunkSize);

function doneLines(doc: JobStatusDocument, missing: readonly number[]): number {
  let lines = doc.lines;
  for (const chunk of missing) lines -= chunkLines(doc, chunk);
  return lines;
}

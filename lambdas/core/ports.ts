/**
 * The pipeline's outside world as the core sees it: an object store and two routes for
 * chunks of work. Adapters implement them for S3/SQS/Batch and for local mode.
 */
import * as z from 'zod';

export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
  readonly etag?: string;
}

/** An object read as a stream, with what S3 says about it. */
export interface ObjectStream {
  readonly body: AsyncIterable<Uint8Array>;
  readonly etag: string;
  /** S3's date of the object (whole seconds, as S3 keeps it). */
  readonly lastModified?: Date;
  /** User metadata (`x-amz-meta-*` without the prefix, lower-case names). */
  readonly metadata: Readonly<Record<string, string>>;
}

/** S3's conditional writes: create only (`If-None-Match: *`) or replace only this version (`If-Match`). */
export type WriteCondition = { readonly ifNoneMatch: '*' } | { readonly ifMatch: string };

export interface GetOptions {
  readonly maxBytes?: number;
  readonly reserve?: (bytes: number) => Promise<void>;
}

export interface ObjectStore {
  /**
   * @param options.maxBytes refuse, without downloading it, an object larger than this
   * @param options.reserve called with the object's size once S3's headers give it, before the
   * body is read: waiting there holds the download back (a worker's budget of bytes in flight)
   * @throws ObjectNotFoundError when the key does not exist; ObjectTooLargeError past maxBytes.
   */
  get(key: string, options?: GetOptions): Promise<Uint8Array>;
  /** @throws ObjectNotFoundError when the key does not exist. */
  read(key: string): Promise<ObjectStream>;
  /** @param metadata user metadata (`x-amz-meta-*`), e.g. a manifest's tolerated failure share. */
  put(key: string, body: Uint8Array | string, contentType?: string, metadata?: Record<string, string>): Promise<void>;
  /**
   * Writes only if the condition holds, atomically (S3 conditional writes): the new ETag, or
   * null when the condition does not hold (the key exists, or has another version).
   * @param metadata user metadata (`x-amz-meta-*`), as for put.
   */
  putIf(
    key: string,
    body: Uint8Array | string,
    condition: WriteCondition,
    contentType?: string,
    metadata?: Record<string, string>,
  ): Promise<string | null>;
  exists(key: string): Promise<boolean>;
  /** Every object under the prefix, in key order; only the first `limit` when given (one request for a few). */
  list(prefix: string, options?: { readonly limit?: number }): Promise<StoredObject[]>;
}

export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`no object at ${key}`);
  }
}

/** How a job's chunks run: Lambda workers through the queue, or an AWS Batch array job. */
export const ROUTES = ['queue', 'batch'] as const;

export class ObjectTooLargeError extends Error {
  override name = 'ObjectTooLargeError';
  constructor(
    readonly key: string,
    readonly size: number,
    readonly maxBytes: number,
  ) {
    super(`${key} is ${size} bytes; the limit is ${maxBytes}`);
  }
}

/** One chunk of one job: the body of a worker-queue message, and of a Batch shard's work. */
export const ChunkMessageSchema = z.object({
  job: z.string().min(1),
  chunk: z.number().int().min(0),
  route: z.enum(ROUTES),
  /** 0 when ingested; each redrive of the job runs its chunks with a higher generation. */
  generation: z.number().int().min(0).default(0),
});
export type ChunkMessage = z.infer<typeof ChunkMessageSchema>;

/** Sends chunks to the Lambda workers (SQS in the cloud, an in-process queue locally). */
export interface ChunkQueue {
  send(messages: readonly ChunkMessage[]): Promise<void>;
}

/** Runs a whole job's chunks on GPU workers (an AWS Batch array job; locally, the worker pool). */
export interface BatchRoute {
  /** Returns the Batch job's id (recorded, so that a retried ingest does not submit twice). */
  submit(job: string, chunks: number): Promise<string>;
}

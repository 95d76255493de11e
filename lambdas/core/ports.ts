/**
 * The pipeline's outside world as the core sees it: an object store and two routes for
 * chunks of work. Adapters implement them for S3/SQS/Batch and for local mode.
 */
import { z } from 'zod';
import { ROUTES } from './job-status.js';

export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
  readonly etag?: string;
}

export interface ObjectStore {
  /** @throws ObjectNotFoundError when the key does not exist. */
  get(key: string): Promise<Uint8Array>;
  put(key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  exists(key: string): Promise<boolean>;
  /** Every object under the prefix, in key order. */
  list(prefix: string): Promise<StoredObject[]>;
}

export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`no object at ${key}`);
  }
}

/** One chunk of one job: the body of a worker-queue message, and of a Batch shard's work. */
export const ChunkMessageSchema = z.object({
  job: z.string().min(1),
  chunk: z.number().int().min(0),
  route: z.enum(ROUTES),
});
export type ChunkMessage = z.infer<typeof ChunkMessageSchema>;

/** Sends chunks to the Lambda workers (SQS in the cloud, an in-process queue locally). */
export interface ChunkQueue {
  send(messages: readonly ChunkMessage[]): Promise<void>;
}

/** Runs a whole job's chunks on GPU workers (an AWS Batch array job; locally, the worker pool). */
export interface BatchRoute {
  submit(job: string, chunks: number): Promise<void>;
}

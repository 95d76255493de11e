/**
 * `fusebatch query`: SQL over the records in a bucket (the local server or a deployed stack).
 * The records are downloaded into one JSON Lines file in a temporary folder and read by DuckDB
 * as the table `results`, with the columns of the Athena table. With a cache, objects whose
 * ETag it already holds are read from it instead of the bucket.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pMapIterable } from 'p-map';
import type { ModelManifest } from '../lambdas/core/manifest.js';
import type { ObjectStore, StoredObject } from '../lambdas/core/ports.js';
import { isRecordKey, recordPrefixes } from '../lambdas/core/query.js';
import { type QueryResult, queryRecordFiles } from './adapters/duckdb-query.js';
import type { ObjectCache } from './adapters/object-cache.js';

export interface QueryOptions {
  /** One job's records; every record under results/ (single pairs and jobs) when absent. */
  readonly job?: string;
  /** Where downloaded objects are kept by ETag, so a later query downloads only what changed. */
  readonly cache?: ObjectCache;
}

/** Objects downloaded (or read from the cache) at once; they are appended in key order. */
export const DOWNLOAD_CONCURRENCY = 16;
const NEWLINE = 0x0a;

export interface Download {
  /** Record objects listed (every one is in the file). */
  readonly objects: number;
  /** Of those, fetched from the bucket (the rest came from the cache). */
  readonly downloaded: number;
}

/** Writes every record object under the prefixes into `file`, in key order. */
export async function downloadRecords(
  store: ObjectStore,
  prefixes: readonly string[],
  file: string,
  options: { cache?: ObjectCache; concurrency?: number } = {},
): Promise<Download> {
  const objects: StoredObject[] = [];
  for (const prefix of prefixes) {
    for (const object of await store.list(prefix)) if (isRecordKey(object.key)) objects.push(object);
  }
  const { cache } = options;
  let downloaded = 0;
  const fetch = async (object: StoredObject) => {
    const cached = await cache?.get(object);
    if (cached) return cached;
    const body = await store.get(object.key);
    downloaded++;
    await cache?.put(object, body);
    return body;
  };
  const concurrency = options.concurrency ?? DOWNLOAD_CONCURRENCY;
  const out = await open(file, 'w');
  try {
    for await (const body of pMapIterable(objects, fetch, { concurrency, backpressure: concurrency })) {
      await out.write(body);
      // A single pair's record may end without a newline: lines must not run together.
      if (body.length && body[body.length - 1] !== NEWLINE) await out.write('\n');
    }
  } finally {
    await out.close();
  }
  return { objects: objects.length, downloaded };
}

export async function queryBucket(
  store: ObjectStore,
  manifest: ModelManifest,
  sql: string,
  options: QueryOptions = {},
): Promise<QueryResult & Download> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-query-'));
  try {
    const file = path.join(dir, 'records.jsonl');
    const download = await downloadRecords(store, recordPrefixes(options.job), file, { cache: options.cache });
    return { ...(await queryRecordFiles(manifest, download.objects ? [file] : [], sql)), ...download };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

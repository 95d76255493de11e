/**
 * `fusebatch query`: SQL over the records in a bucket (the local server or a deployed stack).
 * The records are downloaded into one JSON Lines file in a temporary folder and read by DuckDB
 * as the table `results`, with the columns of the Athena table.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type QueryResult, queryRecordFiles } from '../adapters/duckdb-query.js';
import type { ModelManifest } from '../core/manifest.js';
import type { ObjectStore } from '../core/ports.js';
import { isRecordKey, recordPrefixes } from '../core/query.js';

export interface QueryOptions {
  /** One job's records; every record under results/ (single pairs and jobs) when absent. */
  readonly job?: string;
}

/** Downloads a window of objects at a time, in parallel, and appends them in key order. */
const WINDOW = 32;
const NEWLINE = 0x0a;

/** Writes every record object under the prefixes into `file`; returns how many objects were read. */
export async function downloadRecords(store: ObjectStore, prefixes: readonly string[], file: string): Promise<number> {
  const keys: string[] = [];
  for (const prefix of prefixes) {
    for (const object of await store.list(prefix)) if (isRecordKey(object.key)) keys.push(object.key);
  }
  const out = await open(file, 'w');
  try {
    for (let i = 0; i < keys.length; i += WINDOW) {
      const bodies = await Promise.all(keys.slice(i, i + WINDOW).map((key) => store.get(key)));
      for (const body of bodies) {
        await out.write(body);
        // A single pair's record may end without a newline: lines must not run together.
        if (body.length && body[body.length - 1] !== NEWLINE) await out.write('\n');
      }
    }
  } finally {
    await out.close();
  }
  return keys.length;
}

export async function queryBucket(
  store: ObjectStore,
  manifest: ModelManifest,
  sql: string,
  options: QueryOptions = {},
): Promise<QueryResult & { objects: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-query-'));
  try {
    const file = path.join(dir, 'records.jsonl');
    const objects = await downloadRecords(store, recordPrefixes(options.job), file);
    return { ...(await queryRecordFiles(manifest, objects ? [file] : [], sql)), objects };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

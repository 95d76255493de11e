/**
 * Each role's access to the bucket, in one table: the object keys it may read and write, and the
 * prefixes it may list, as IAM patterns (`*` matches any run of characters, `/` included). The
 * patterns are built from the key layout (keys.ts), so a layout change moves the grants with it.
 * The CDK construct makes the roles' S3 statements and their cdk-nag acknowledgements from this
 * table; the stack test checks the synthesized policies against it, and against real keys.
 */
import { INPUT_PREFIXES, jobKeys, PREFIXES, RESULT_PREFIXES } from './keys.js';

/** IAM's wildcard: any job (or id) in a key, or everything under a prefix. */
const ANY = '*';
const everythingUnder = (prefix: string) => `${prefix}${ANY}`;

export interface BucketAccess {
  /** Keys it may GetObject (HeadObject, which `exists` sends, needs the same). */
  readonly read: readonly string[];
  /** Keys it may PutObject. */
  readonly write: readonly string[];
  /**
   * Prefixes it may list (ListBucket's `s3:prefix`). S3 answers a GET or HEAD of a missing key
   * with 404 only to a caller that may list that key, and 403 AccessDenied to any other; the
   * pipeline reads a missing key as news (a missing half, no status yet), so a role may list
   * wherever it may read. Every LIST the pipeline makes is under its reads too.
   */
  readonly list: readonly string[];
}

export type PipelineRole = 'ingest' | 'worker' | 'batchJob';

const ingestReads = [
  everythingUnder(PREFIXES.inbox),
  everythingUnder(PREFIXES.jobs),
  everythingUnder(PREFIXES.state),
  // A redrive reads a job's errors parts for the records it may retry; never its results.
  everythingUnder(jobKeys.errorsPrefix(ANY)),
];

/** Single pairs, manifests and a job's state; of results, single pairs' and an empty job's _SUCCESS. */
const INGEST: BucketAccess = {
  read: ingestReads,
  write: [everythingUnder(PREFIXES.state), everythingUnder(RESULT_PREFIXES.pairs), jobKeys.success(ANY)],
  // And, one key listed each: whether a job's folder holds records (a name whose records outlived
  // its state is not run again, job-ingest.ts), and a single pair's record's ETag (its
  // conditional write, inbox.ts).
  list: [...ingestReads, everythingUnder(jobKeys.results(ANY)), everythingUnder(RESULT_PREFIXES.pairs)],
};

const workerReads = [...INPUT_PREFIXES.map(everythingUnder), everythingUnder(PREFIXES.state)];

/**
 * Reads inputs (a manifest's images may be anywhere under the input prefixes) and state; writes
 * a job's records, and of its state only completion and stalled markers and the stop document
 * (an error threshold passed): never its status, chunks, lease or routing.
 */
const WORKER: BucketAccess = {
  read: workerReads,
  write: [
    everythingUnder(RESULT_PREFIXES.jobs),
    everythingUnder(jobKeys.donePrefix(ANY)),
    everythingUnder(jobKeys.stalledPrefix(ANY)),
    jobKeys.stop(ANY),
  ],
  list: workerReads,
};

/** The Batch job runs the worker's code on its shard of chunks: the same access. */
export const BUCKET_ACCESS: Readonly<Record<PipelineRole, BucketAccess>> = {
  ingest: INGEST,
  worker: WORKER,
  batchJob: WORKER,
};

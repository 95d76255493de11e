/**
 * The user's commands against a pipeline bucket (the local server or a deployed stack):
 * submit a job, watch its status, redrive or cancel it, read its results, send one pair, list
 * the inbox pairs still waiting.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import pMap, { pMapIterable } from 'p-map';
import { FusebatchError } from '../lambdas/core/errors.js';
import { halvesMetadata, inboxBacklog } from '../lambdas/core/inbox.js';
import { stopJob, TOLERATED_FAILURE_METADATA } from '../lambdas/core/job-ingest.js';
import { type JobState, type JobStatus, readJobStatus } from '../lambdas/core/job-status.js';
import { jobKeys, jobNameProblem, PREFIXES, pairKeys, toJobName } from '../lambdas/core/keys.js';
import { ObjectNotFoundError, type ObjectStore } from '../lambdas/core/ports.js';
import type { OutputRecord } from '../lambdas/core/records.js';
import { listFolderPairs } from './adapters/local-files.js';
import { formatRows } from './row-format.js';

const decoder = new TextDecoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface SubmitOptions {
  readonly job?: string;
  readonly progress: boolean;
  /** The share of error records (in %) past which the job stops as failed. */
  readonly toleratedFailurePercent?: number;
}

/** The manifest's metadata: ingest reads the job's error threshold from it. */
const manifestMetadata = (options: SubmitOptions) =>
  options.toleratedFailurePercent === undefined
    ? undefined
    : { [TOLERATED_FAILURE_METADATA]: String(options.toleratedFailurePercent) };

/**
 * Refuses, before anything is uploaded, a name that is not a job name or that an earlier job
 * holds (its ingest lease or its records exist): the pipeline would refuse its manifest anyway.
 */
async function claimableJobName(store: ObjectStore, job: string): Promise<string> {
  const problem = jobNameProblem(job);
  if (problem) throw new FusebatchError(`${problem}; choose one with --job`);
  const [ingested, results] = await Promise.all([
    store.exists(jobKeys.lease(job)),
    store.list(jobKeys.results(job), { limit: 1 }),
  ]);
  if (ingested || results.length) {
    throw new FusebatchError(`job ${job} already exists in this bucket; choose another name with --job`);
  }
  return job;
}

/** A folder of pairs becomes uploads/<job>/... plus jobs/<job>.jsonl (uploaded last: it starts the job). */
export async function submitFolder(
  store: ObjectStore,
  dir: string,
  options: SubmitOptions,
): Promise<{ job: string; pairs: number }> {
  const job = await claimableJobName(
    store,
    options.job ?? toJobName(`${path.basename(path.resolve(dir))}-${new Date().toISOString().replace(/[:.]/g, '-')}`),
  );
  const pairs = await listFolderPairs(dir);
  const bar = options.progress
    ? new cliProgress.SingleBar(
        { format: 'upload |{bar}| {value}/{total} pairs', hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(pairs.length, 0);
  const lines: string[] = [];
  let done = 0;
  // A few uploads at a time: enough to fill the connection, not to exhaust sockets.
  await pMap(
    pairs,
    async (pair) => {
      // A line holds the halves the folder has; the model decides what a missing one means
      // (a half it does not read is dropped, one it reads is the line's INPUT_INVALID).
      const text = await pair.readText().then(
        (t) => (typeof t === 'string' ? t : decoder.decode(t)),
        () => undefined,
      );
      const image = pair.image ? `uploads/${job}/${pair.image}` : undefined;
      if (image) await store.put(image, await pair.readImage());
      lines.push(JSON.stringify({ id: pair.id, image, text }));
      bar?.update(++done);
    },
    { concurrency: 8 },
  );
  bar?.stop();
  lines.sort();
  await store.put(`jobs/${job}.jsonl`, lines.join('\n') + '\n', 'application/x-ndjson', manifestMetadata(options));
  return { job, pairs: pairs.length };
}

/** A manifest line's JSON object, or null where the line is not one (the pipeline reports those). */
export function jsonObjectOrNull(line: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(line);
    return value && typeof value === 'object' && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** Whether a manifest's `image` path names a file under the manifest's folder `dir` (relative, not climbing out). */
export function isUnderFolder(dir: string, image: string): boolean {
  const relative = path.relative(dir, path.resolve(dir, image));
  return !path.isAbsolute(image) && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/** A manifest whose `image` fields are local paths (relative to it): images uploaded, keys rewritten. */
export async function submitManifest(
  store: ObjectStore,
  file: string,
  options: SubmitOptions,
): Promise<{ job: string; pairs: number }> {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (ext !== 'jsonl') throw new Error(`submit takes a folder of pairs or a .jsonl manifest, not ${file}`);
  const job = await claimableJobName(store, options.job ?? toJobName(path.basename(file, path.extname(file))));
  const dir = path.dirname(path.resolve(file));
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim());
  // Only files under the manifest's folder are uploaded: a manifest from elsewhere must not be
  // able to copy ~/.aws/credentials into the bucket. Every line is checked before any upload.
  lines.forEach((line, i) => {
    const image = jsonObjectOrNull(line)?.image;
    if (typeof image === 'string' && !isUnderFolder(dir, image)) {
      throw new FusebatchError(
        `${file} line ${i + 1}: image '${image}' is outside the manifest's folder; submit uploads only files under ${dir}`,
      );
    }
  });
  const out: string[] = [];
  for (const line of lines) {
    const value = jsonObjectOrNull(line);
    if (!value) {
      out.push(line); // left for the pipeline to report as an invalid line
      continue;
    }
    if (typeof value.image === 'string') {
      const local = path.resolve(dir, value.image);
      const key = `uploads/${job}/${path.relative(dir, local).split(path.sep).join('/')}`;
      try {
        await store.put(key, await readFile(local));
        value.image = key;
      } catch {
        // A missing image stays as given: the pipeline reports it as IMAGE_MISSING.
      }
    }
    out.push(JSON.stringify(value));
  }
  await store.put(`jobs/${job}.jsonl`, out.join('\n') + '\n', 'application/x-ndjson', manifestMetadata(options));
  return { job, pairs: lines.length };
}

/** States a job does not leave by itself. */
const FINAL_STATES: readonly JobState[] = ['complete', 'failed', 'cancelled'];

/**
 * Polls a job until it is complete, failed or cancelled (or `timeoutMs` passes), with a progress
 * bar when asked. A stalled job is still watched: a redrive may bring it back.
 */
export async function waitForJob(
  store: ObjectStore,
  job: string,
  options: { progress: boolean; timeoutMs: number; intervalMs?: number },
): Promise<JobStatus> {
  const deadline = Date.now() + options.timeoutMs;
  let bar: cliProgress.SingleBar | null = null;
  for (;;) {
    let status: JobStatus | null = null;
    try {
      status = await readJobStatus(store, job);
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError)) throw error;
    }
    if (status && options.progress) {
      const payload = { failed: status.failed, route: status.route ?? '-', state: status.state };
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            format: `job ${job} |{bar}| {value}/{total} pairs | {failed} errors | {state} | route {route}`,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(status.total, status.done, payload);
      }
      bar.setTotal(status.total);
      bar.update(status.done, payload);
    }
    if (status && FINAL_STATES.includes(status.state)) {
      bar?.stop();
      return status;
    }
    if (Date.now() > deadline) {
      bar?.stop();
      const why = status?.stalled.length ? `; stalled: ${status.stalled[0].reason}` : '';
      throw new Error(
        `job ${job} is not complete after ${options.timeoutMs / 1000} s${status ? ` (${status.state}, ${status.done}/${status.total} pairs${why})` : ' (not ingested yet)'}`,
      );
    }
    await sleep(options.intervalMs ?? 5000);
  }
}

/**
 * Asks the pipeline to redrive a job (`jobs/<job>.redrive`, which the ingest function takes):
 * stalled chunks and chunks with retryable error records run again; an ingest that stopped
 * resumes. The bucket is the only interface, so this needs no queue or Batch permissions.
 */
export async function requestRedrive(
  store: ObjectStore,
  job: string,
  options: { allMissing?: boolean } = {},
): Promise<{ request: string; status: JobStatus | null }> {
  let status: JobStatus | null = null;
  try {
    status = await readJobStatus(store, job);
  } catch (error) {
    if (!(error instanceof ObjectNotFoundError)) throw error;
  }
  if (status?.stop)
    throw new FusebatchError(`job ${job} is ${status.stop.state} (${status.stop.reason}): it cannot be redriven`);
  const request = crypto.randomUUID();
  const body = { id: request, allMissing: Boolean(options.allMissing), requestedAt: new Date().toISOString() };
  await store.put(jobKeys.redrive(job), JSON.stringify(body) + '\n', 'application/json');
  return { request, status };
}

/** Cancels a job: chunks not yet started are skipped (Lambda workers and Batch children alike). */
export async function cancelJob(store: ObjectStore, job: string, reason = 'cancelled by the user'): Promise<JobStatus> {
  const status = await readJobStatus(store, job);
  if (status.complete) throw new FusebatchError(`job ${job} is already complete`);
  const stopped = await stopJob(store, job, { state: 'cancelled', reason, at: new Date().toISOString() });
  if (!stopped) throw new FusebatchError(`job ${job} was already stopped`);
  return readJobStatus(store, job);
}

/** Parts fetched ahead of the one being read: enough to hide S3's latency, few enough to keep memory flat. */
export const PART_PREFETCH = 8;

/**
 * Every record of a job: its results parts, then its errors parts (invalid lines included),
 * each prefix in listing order. Up to `prefetch` parts are downloaded at once, and no more
 * than that many are held (fetched or in flight) ahead of the reader.
 */
export async function* jobRecords(
  store: ObjectStore,
  job: string,
  options: { prefetch?: number } = {},
): AsyncGenerator<OutputRecord> {
  const keys: string[] = [];
  for (const prefix of [jobKeys.partsPrefix(job), jobKeys.errorsPrefix(job)]) {
    for (const object of await store.list(prefix)) keys.push(object.key);
  }
  const prefetch = options.prefetch ?? PART_PREFETCH;
  const bodies = pMapIterable(keys, (key) => store.get(key), { concurrency: prefetch, backpressure: prefetch });
  for await (const body of bodies) {
    for (const line of decoder.decode(body).split('\n')) {
      if (line) yield JSON.parse(line) as OutputRecord;
    }
  }
}

/**
 * Uploads one pair to inbox/ and waits for its record: the one made from these uploads (the
 * record's metadata names the halves' ETags), not an earlier record of the same id.
 */
export async function sendPair(
  store: ObjectStore,
  image: string | null,
  caption: string | null,
  options: { id?: string; timeoutMs: number },
): Promise<OutputRecord> {
  if (!image && caption === null) throw new Error('a pair needs an image, a caption or both');
  const name = image ? path.basename(image, path.extname(image)) : 'text';
  const id = options.id ?? `${name}-${Date.now()}`;
  // Uploaded in this order, each half is what the model reads or is ignored by it.
  const keys: string[] = [];
  if (image) {
    keys.push(pairKeys.image(id, path.extname(image).slice(1).toLowerCase()));
    await store.put(keys[0], await readFile(image));
  }
  if (caption !== null) {
    keys.push(pairKeys.text(id));
    await store.put(pairKeys.text(id), caption, 'text/plain; charset=utf-8');
  }
  const listed = (await store.list(`${PREFIXES.inbox}${id}.`)).filter((o) => keys.includes(o.key));
  const uploaded = halvesMetadata(listed.map((o) => ({ key: o.key, etag: o.etag ?? '' })));
  // A record names the versions of the halves its model read (several, for an id with two
  // images): each kind it names must include the one just uploaded. A record naming none comes
  // from a pipeline older than these names, and is taken as it is.
  const fromUploads = (metadata: Readonly<Record<string, string>>) =>
    Object.keys(uploaded)
      .filter((k) => metadata[k] !== undefined)
      .every((k) => metadata[k].split(',').includes(uploaded[k]));
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    try {
      const { body, metadata } = await store.read(pairKeys.result(id));
      const chunks: Uint8Array[] = [];
      for await (const chunk of body) chunks.push(chunk);
      if (fromUploads(metadata)) return JSON.parse(decoder.decode(Buffer.concat(chunks)).trim()) as OutputRecord;
    } catch (error) {
      if (!(error instanceof ObjectNotFoundError)) throw error;
    }
    if (Date.now() > deadline) throw new Error(`no result for pair ${id} after ${options.timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/**
 * `status --inbox`: the inbox pairs without an up-to-date record (which halves they have, which
 * they lack, how long since the newest arrived) and the inbox keys the pipeline refuses, as a
 * table or as JSON lines (a pair: `id`, ...; a refused key: `key`, `refused`).
 */
export async function inboxStatus(
  store: ObjectStore,
  options: { readonly json: boolean; readonly now?: Date },
): Promise<string> {
  const { waiting, refused } = await inboxBacklog(store, options.now);
  if (options.json) {
    return [
      ...waiting.map((pair) => JSON.stringify(pair)),
      ...refused.map(({ key, reason }) => JSON.stringify({ key, refused: reason })),
    ]
      .map((line) => `${line}\n`)
      .join('');
  }
  const rows = waiting.map((pair) => ({
    id: pair.id,
    present: [...pair.images, ...pair.texts].join(', '),
    missing: pair.missing.join(', ') || '-',
    result: pair.result === 'none' ? 'none' : 'older than a half',
    'newest half': pair.newestHalfAt,
    'age (s)': pair.newestHalfAgeSeconds,
  }));
  const columns = ['id', 'present', 'missing', 'result', 'newest half', 'age (s)'];
  // A refusal's reason is the point of listing it: whole, on its own line, never cut to a column.
  const refusals = refused.map(({ key, reason }) => `${key}: ${reason}\n`).join('');
  return (
    'waiting pairs (no record, or a record older than a half; the model may not read a missing half)\n' +
    formatRows(columns, rows, 'table') +
    (refused.length ? `\ninbox keys refused (never run)\n${refusals}` : '')
  );
}

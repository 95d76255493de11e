/**
 * The bucket's key layout, in one place. Inputs arrive under `inbox/` (single pairs) and
 * `jobs/` (manifests); everything the pipeline writes is under `results/` (records and
 * masks, what users query) or `state/` (job bookkeeping). Only `inbox/` and `jobs/` ever
 * trigger processing.
 *
 *   inbox/<id>.<image ext>, inbox/<id>.txt      a single pair (<id> may contain folders)
 *   jobs/<job>.jsonl | jobs/<job>.csv           a manifest job (<job> may contain folders)
 *   results/pairs/<id>.json                     the pair's record (one JSON line)
 *   results/pairs/_masks/<id>.<task>.png        its masks
 *   jobs/<job>.redrive                          a request to redrive a job (`fusebatch redrive`)
 *   results/jobs/<job>/parts/<chunk>.jsonl      result records of a chunk
 *   results/jobs/<job>/errors/<chunk>.jsonl     error records of a chunk (its invalid lines included)
 *   results/jobs/<job>/_masks/<id>.<task>.png   masks of the job's pairs
 *   results/jobs/<job>/_SUCCESS                 written once every chunk is done
 *   state/jobs/<job>/status.json                the job's status document (written at ingest)
 *   state/jobs/<job>/chunks/<chunk>.jsonl       the manifest lines of a chunk, validated
 *   state/jobs/<job>/lease.json                 the ingest lease (one ingest at a time)
 *   state/jobs/<job>/routed.json                how far routing got (a retried ingest resumes)
 *   state/jobs/<job>/done/<level>/<group>/...   completion markers (completion.ts)
 *   state/jobs/<job>/stalled/<chunk>.json       a chunk that failed its last attempt, and why
 *   state/jobs/<job>/stop.json                  the job was cancelled, or failed its error threshold
 *   state/jobs/<job>/redrives/...               redrive requests taken, and generations handed out
 *
 * `_SUCCESS` and the `_masks/` folders start with an underscore because Athena (Trino's Hive
 * reader) skips files and folders named so: the one table over results/ then reads records only,
 * never a PNG. The local query engine reads the same records by extension.
 */
export const IMAGE_EXTENSIONS = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'tif', 'tiff', 'avif'] as const;

export const PREFIXES = { inbox: 'inbox/', jobs: 'jobs/', results: 'results/', state: 'state/' } as const;

/** Where a manifest's images may live: what workers may read besides state/ (IAM grants follow). */
export const INPUT_PREFIXES = [PREFIXES.inbox, PREFIXES.jobs, 'uploads/'] as const;

/** The two halves of results/: single pairs' records and masks, and jobs' (core/access.ts grants by them). */
export const RESULT_PREFIXES = { pairs: `${PREFIXES.results}pairs/`, jobs: `${PREFIXES.results}jobs/` } as const;

/** A job's own folder of state/. */
const jobState = (job: string) => `${PREFIXES.state}jobs/${job}/`;

export type KeyKind =
  | { readonly kind: 'pair-image'; readonly id: string; readonly key: string }
  | { readonly kind: 'pair-text'; readonly id: string; readonly key: string }
  | { readonly kind: 'job-manifest'; readonly job: string; readonly format: 'jsonl' | 'csv'; readonly key: string }
  | { readonly kind: 'job-redrive'; readonly job: string; readonly key: string }
  | { readonly kind: 'ignored'; readonly key: string; readonly reason: string };

const extensionOf = (key: string) => {
  const slash = key.lastIndexOf('/');
  const dot = key.lastIndexOf('.');
  return dot > slash + 1 ? key.slice(dot + 1) : '';
};

/** What an object key is to the pipeline. Only inbox/ and jobs/ keys are ever work. */
export function classifyKey(key: string): KeyKind {
  const ext = extensionOf(key);
  const stem = ext ? key.slice(0, key.length - ext.length - 1) : key;
  const lower = ext.toLowerCase();
  if (key.startsWith(PREFIXES.inbox)) {
    const id = stem.slice(PREFIXES.inbox.length);
    if (!id || id.endsWith('/'))
      return { kind: 'ignored', key, reason: 'an inbox key needs a name before its extension' };
    if ((IMAGE_EXTENSIONS as readonly string[]).includes(lower)) return { kind: 'pair-image', id, key };
    if (lower === 'txt') return { kind: 'pair-text', id, key };
    return { kind: 'ignored', key, reason: `inbox/ takes images (.${IMAGE_EXTENSIONS.join(', .')}) and .txt captions` };
  }
  if (key.startsWith(PREFIXES.jobs)) {
    const job = stem.slice(PREFIXES.jobs.length);
    if (job && !job.endsWith('/') && (lower === 'jsonl' || lower === 'csv')) {
      return { kind: 'job-manifest', job, format: lower, key };
    }
    if (job && !job.endsWith('/') && lower === 'redrive') return { kind: 'job-redrive', job, key };
    return { kind: 'ignored', key, reason: 'jobs/ takes manifests named <job>.jsonl or <job>.csv (and <job>.redrive)' };
  }
  return { kind: 'ignored', key, reason: 'only inbox/ and jobs/ are processed' };
}

/** S3 event records URL-encode keys as a form does (a space as `+`). */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/** The other way round, for emitters of S3-shaped events (the embedded server). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

export const pairKeys = {
  text: (id: string) => `${PREFIXES.inbox}${id}.txt`,
  image: (id: string, ext: string) => `${PREFIXES.inbox}${id}.${ext}`,
  result: (id: string) => `${RESULT_PREFIXES.pairs}${id}.json`,
  mask: (id: string, task: string) => `${RESULT_PREFIXES.pairs}_masks/${id}.${task}.png`,
};

/**
 * Chunk numbers as names that list in chunk order: five digits, and past 99,999 one `~` per
 * extra digit (`~` sorts after every digit), so a job has no ceiling on its chunks.
 */
export const chunkName = (chunk: number) => {
  const digits = String(chunk).padStart(5, '0');
  return '~'.repeat(digits.length - 5) + digits;
};

export const jobKeys = {
  results: (job: string) => `${RESULT_PREFIXES.jobs}${job}/`,
  masksPrefix: (job: string) => `${RESULT_PREFIXES.jobs}${job}/_masks/`,
  partsPrefix: (job: string) => `${RESULT_PREFIXES.jobs}${job}/parts/`,
  errorsPrefix: (job: string) => `${RESULT_PREFIXES.jobs}${job}/errors/`,
  part: (job: string, chunk: number) => `${RESULT_PREFIXES.jobs}${job}/parts/${chunkName(chunk)}.jsonl`,
  errors: (job: string, chunk: number) => `${RESULT_PREFIXES.jobs}${job}/errors/${chunkName(chunk)}.jsonl`,
  mask: (job: string, id: string, task: string) => `${RESULT_PREFIXES.jobs}${job}/_masks/${id}.${task}.png`,
  success: (job: string) => `${RESULT_PREFIXES.jobs}${job}/_SUCCESS`,
  status: (job: string) => `${jobState(job)}status.json`,
  chunk: (job: string, chunk: number) => `${jobState(job)}chunks/${chunkName(chunk)}.jsonl`,
  lease: (job: string) => `${jobState(job)}lease.json`,
  routed: (job: string) => `${jobState(job)}routed.json`,
  stop: (job: string) => `${jobState(job)}stop.json`,
  stalledPrefix: (job: string) => `${jobState(job)}stalled/`,
  stalled: (job: string, chunk: number) => `${jobState(job)}stalled/${chunkName(chunk)}.json`,
  /** The completion markers of the whole job (completion.ts), every level of its tree. */
  donePrefix: (job: string) => `${jobState(job)}done/`,
  /** The completion markers of the children of one node of the completion tree. */
  done: (job: string, level: number, group: number) => `${jobState(job)}done/${level}/${group}/`,
  redrive: (job: string) => `${PREFIXES.jobs}${job}.redrive`,
  redriveTaken: (job: string, request: string) => `${jobState(job)}redrives/requests/${request}`,
  generationsPrefix: (job: string) => `${jobState(job)}redrives/generations/`,
  generation: (job: string, n: number) => `${jobState(job)}redrives/generations/${chunkName(n)}`,
};

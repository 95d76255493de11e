/**
 * The bucket's key layout, in one place. Inputs arrive under `inbox/` (single pairs) and
 * `jobs/` (manifests); everything the pipeline writes is under `results/` (records and
 * masks, what users query) or `state/` (job bookkeeping). Only `inbox/` and `jobs/` ever
 * trigger processing.
 *
 *   inbox/<id>.<image ext>, inbox/<id>.txt      a single pair (<id> may contain folders: inboxIdProblem)
 *   jobs/<job>.jsonl | jobs/<job>.csv           a manifest job (<job> is one segment: jobNameProblem)
 *   results/pairs/<id>.json                     the pair's record (one JSON line)
 *   results/pairs/_masks/<id>.<version>.<task>.png   its masks, per version of its halves (inbox.ts)
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
 *   state/jobs/<job>/refusals/<etag>.json       a manifest upload refused because the name is taken
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
  /** A manifest the pipeline will not run (its name is not a job name): logged as a warning, never silent. */
  | { readonly kind: 'job-refused'; readonly key: string; readonly reason: string }
  | { readonly kind: 'ignored'; readonly key: string; readonly reason: string };

/**
 * Job names are one flat namespace: one path segment, so that no job's folders (results/jobs/<job>/,
 * state/jobs/<job>/) can nest inside another's, and starting with a letter or digit, so that no
 * name is hidden from Athena and the local query engine, which skip `_` and `.` names.
 */
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const JOB_NAME_RULE =
  'a job name is 1 to 128 letters, digits, ".", "_" and "-", starting with a letter or digit (one segment: no "/")';

/** Why `name` is not a job name, or null when it is one. */
export function jobNameProblem(name: string): string | null {
  return JOB_NAME.test(name) ? null : `'${name}' is not a job name: ${JOB_NAME_RULE}`;
}

/** A job name made from any text (a folder's or file's name): invalid characters become `-`. */
export function toJobName(text: string): string {
  const name = text
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128)
    .replace(/[-._]+$/, '');
  return name || 'job';
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Why an inbox id cannot be run, or null: its record would be results/pairs/<id>.json, which must
 * be a key every reader sees (no empty, `_` or `.` segment: Athena skips those) and one line.
 */
export function inboxIdProblem(id: string): string | null {
  if (CONTROL.test(id)) return 'an inbox id must not hold control characters';
  if (id.split('/').some((segment) => segment === '' || segment.startsWith('_') || segment.startsWith('.'))) {
    return 'an inbox id must not have empty segments or segments starting with _ or . (Athena and query skip them)';
  }
  return null;
}

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
    const isImage = (IMAGE_EXTENSIONS as readonly string[]).includes(lower);
    if (!isImage && lower !== 'txt')
      return {
        kind: 'ignored',
        key,
        reason: `inbox/ takes images (.${IMAGE_EXTENSIONS.join(', .')}) and .txt captions`,
      };
    const problem = inboxIdProblem(id);
    if (problem) return { kind: 'ignored', key, reason: problem };
    return isImage ? { kind: 'pair-image', id, key } : { kind: 'pair-text', id, key };
  }
  if (key.startsWith(PREFIXES.jobs)) {
    const job = stem.slice(PREFIXES.jobs.length);
    if (job && (lower === 'jsonl' || lower === 'csv')) {
      const problem = jobNameProblem(job);
      if (problem) return { kind: 'job-refused', key, reason: `${key} is not run: ${problem}` };
      return { kind: 'job-manifest', job, format: lower, key };
    }
    if (job && !jobNameProblem(job) && lower === 'redrive') return { kind: 'job-redrive', job, key };
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
  mask: (id: string, version: string, task: string) => `${RESULT_PREFIXES.pairs}_masks/${id}.${version}.${task}.png`,
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
  refusalsPrefix: (job: string) => `${jobState(job)}refusals/`,
  refusal: (job: string, etag: string) => `${jobState(job)}refusals/${etag.replace(/[^A-Za-z0-9-]/g, '')}.json`,
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

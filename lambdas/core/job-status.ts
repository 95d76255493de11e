/**
 * A job's progress, derived from what exists in the bucket, never from a counter that two
 * workers update: the status document written once at ingest (what the job is) plus the
 * listing of the job's parts (what is done). A chunk is done when both its results part and
 * its errors part exist (a worker writes the results part first and the errors part last).
 */
import { z } from 'zod';
import { chunkName } from './keys.js';

export const ROUTES = ['queue', 'batch'] as const;

export const JobStatusDocumentSchema = z.object({
  job: z.string(),
  manifest: z.string(),
  route: z.enum(ROUTES),
  /** Lines in the manifest: pairs + invalid lines. */
  lines: z.number().int().min(0),
  invalid: z.number().int().min(0),
  /** Pairs in each chunk, by chunk number. */
  chunkSizes: z.array(z.number().int().min(0)),
  createdAt: z.string(),
});
export type JobStatusDocument = z.infer<typeof JobStatusDocumentSchema>;

export interface PartObject {
  readonly key: string;
  readonly lastModified?: Date;
}

export interface JobStatus {
  readonly job: string;
  readonly route: JobStatusDocument['route'];
  /** Every line of the manifest. */
  readonly total: number;
  /** Lines that ended as a record (result or error), invalid lines included. */
  readonly done: number;
  /** Of those, error records (invalid lines included), when error parts were counted. */
  readonly failed: number;
  readonly pending: number;
  readonly chunks: { readonly total: number; readonly done: number };
  readonly started: string;
  /** When the last chunk finished; null while pending. */
  readonly finished: string | null;
  readonly complete: boolean;
}

/**
 * @param parts the objects under results/jobs/<job>/ (parts/ and errors/ are read)
 * @param errorLines error records per chunk, from reading the errors parts that exist
 */
export function deriveJobStatus(
  doc: JobStatusDocument,
  parts: readonly PartObject[],
  errorLines: ReadonlyMap<number, number>,
): JobStatus {
  const present = (folder: 'parts' | 'errors') =>
    new Map(
      parts
        .map((p) => [p.key.match(new RegExp(`/${folder}/(\\d{5})\\.jsonl$`))?.[1], p] as const)
        .filter((e): e is [string, PartObject] => e[0] !== undefined),
    );
  const results = present('parts');
  const errors = present('errors');
  let doneChunks = 0;
  let donePairs = 0;
  let failed = doc.invalid;
  let finished = 0;
  doc.chunkSizes.forEach((size, chunk) => {
    const name = chunkName(chunk);
    const errorPart = errors.get(name);
    if (results.has(name) && errorPart) {
      doneChunks++;
      donePairs += size;
      failed += errorLines.get(chunk) ?? 0;
      finished = Math.max(finished, errorPart.lastModified?.getTime() ?? 0);
    }
  });
  const complete = doneChunks === doc.chunkSizes.length;
  const done = donePairs + doc.invalid;
  return {
    job: doc.job,
    route: doc.route,
    total: doc.lines,
    done,
    failed,
    pending: doc.lines - done,
    chunks: { total: doc.chunkSizes.length, done: doneChunks },
    started: doc.createdAt,
    finished: complete ? new Date(finished || Date.parse(doc.createdAt)).toISOString() : null,
    complete,
  };
}

/**
 * Manifest jobs: `jobs/<job>.jsonl` (one JSON object a line) or `jobs/<job>.csv` (with a
 * header), each line `{ id, image, text }` plus any extra fields, which are carried through
 * to the line's record. A line needs only the halves the model reads: `image` for a model with
 * an image input, `text` for one with a text input; a half it does not read is dropped. Every
 * line is accounted for: a valid line becomes a pair of some chunk, an invalid one an
 * INPUT_INVALID error naming its line number. Blank lines are not lines.
 */
import { Readable } from 'node:stream';
import { parse as parseCsvStream } from 'csv-parse';
import * as z from 'zod';
import { FusebatchError } from './errors.js';
import { INPUT_PREFIXES } from './keys.js';
import { formatIssues, type PairNeeds } from './manifest.js';
import { MAX_TEXT_BYTES } from './preprocess.js';

const SAFE_ID = /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[^\0]+$/;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const idField = z
  .string()
  .min(1, 'id must not be empty')
  .max(512)
  .regex(SAFE_ID, 'id must be a relative path without . or .. segments')
  .refine((id) => !CONTROL.test(id), 'id must not hold control characters (newlines, tabs, ...)');

/** An image key workers may read: under one of the input prefixes, no . or .. segment. */
const imageKey = (field: z.ZodString) =>
  field
    .min(1, 'image must name an object key')
    .refine((key) => INPUT_PREFIXES.some((p) => key.startsWith(p)), {
      message: `image must be a key under ${INPUT_PREFIXES.join(', ')} (where workers may read)`,
    })
    .refine((key) => !/(?:^|\/)\.\.?(?:\/|$)/.test(key), 'image key must not have . or .. segments');

/** A manifest that cannot be read past some point (a broken CSV): the job fails, with this reason. */
export class ManifestUnreadableError extends FusebatchError {
  override name = 'ManifestUnreadableError';
}

/** A manifest line for a model that reads these halves. */
export function manifestLineSchema(needs: PairNeeds) {
  const required = (name: 'image' | 'text') =>
    z.string({
      error: (issue) =>
        issue.input === undefined
          ? `${name} is required: the model reads ${name === 'image' ? 'an image' : 'a text'}`
          : `${name} must be a string`,
    });
  return z
    .object({
      id: idField,
      image: needs.image ? imageKey(required('image')) : z.unknown().optional(),
      text: needs.text
        ? required('text').refine((t) => Buffer.byteLength(t) <= MAX_TEXT_BYTES, {
            message: `text must be at most ${MAX_TEXT_BYTES} bytes (the caption limit)`,
          })
        : z.unknown().optional(),
    })
    .catchall(z.unknown());
}

/** A valid line, ready to run. */
export interface JobPair {
  readonly line: number;
  readonly id: string;
  /** Absent when the model reads no image. */
  readonly image?: string;
  /** Absent when the model reads no text. */
  readonly text?: string;
  readonly extra?: Record<string, unknown>;
}

/** An invalid line: it becomes an error record with this id (or `line-<n>` when it has none). */
export interface InvalidLine {
  readonly line: number;
  readonly id: string;
  readonly image: string | null;
  readonly text: string | null;
  readonly message: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/**
 * The ids seen so far, as 63-bit hashes in an open-addressing table: 16 bytes an id at worst
 * (a million ids: 16 MB) instead of the ids themselves. Two different ids colliding on all 63
 * bits is about as likely as a cosmic-ray bit flip (one in 10^10 for a million ids).
 */
export class IdHashSet {
  private table = new Uint32Array(2 * 1024);
  private count = 0;

  /** Adds the id; false when it was there already. */
  add(id: string): boolean {
    let a = 0x811c9dc5;
    let b = 5381;
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b, 33) ^ c;
    }
    b = (b | 1) >>> 0; // never 0: an empty slot is (0, 0)
    a >>>= 0;
    if (2 * (this.count + 1) > this.table.length / 2) this.grow();
    if (!this.insert(a, b)) return false;
    this.count++;
    return true;
  }

  private insert(a: number, b: number): boolean {
    const mask = this.table.length / 2 - 1;
    for (let slot = (a ^ Math.imul(b, 0x9e3779b1)) & mask; ; slot = (slot + 1) & mask) {
      const [x, y] = [this.table[2 * slot], this.table[2 * slot + 1]];
      if (y === 0) {
        this.table[2 * slot] = a;
        this.table[2 * slot + 1] = b;
        return true;
      }
      if (x === a && y === b) return false;
    }
  }

  private grow(): void {
    const old = this.table;
    this.table = new Uint32Array(old.length * 2);
    for (let i = 0; i < old.length; i += 2) if (old[i + 1] !== 0) this.insert(old[i], old[i + 1]);
  }
}

/** Checks manifest lines one by one, in order; duplicate ids are caught across the whole manifest. */
export class ManifestLineChecker {
  private readonly schema;
  private readonly seen = new IdHashSet();

  constructor(private readonly needs: PairNeeds) {
    this.schema = manifestLineSchema(needs);
  }

  check(line: number, value: unknown, error?: string): JobPair | InvalidLine {
    const record = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    const fallback = {
      line,
      id: str(record.id) || `line-${line}`,
      image: str(record.image),
      text: str(record.text),
    };
    if (error || !value || typeof value !== 'object' || Array.isArray(value)) {
      return { ...fallback, message: `line ${line}: ${error ?? 'a line must be a JSON object'}` };
    }
    const parsed = this.schema.safeParse(value);
    if (!parsed.success) return { ...fallback, message: `line ${line}: ${formatIssues(parsed.error).join('; ')}` };
    const { id, image, text, ...extra } = parsed.data;
    if (!this.seen.add(id)) {
      return {
        ...fallback,
        id: `${id}#line-${line}`,
        message: `line ${line}: duplicate id '${id}' (ids must be unique in a job)`,
      };
    }
    return {
      line,
      id,
      ...(this.needs.image ? { image: image as string } : {}),
      ...(this.needs.text ? { text: text as string } : {}),
      ...(Object.keys(extra).length ? { extra } : {}),
    };
  }
}

export const isInvalid = (line: JobPair | InvalidLine): line is InvalidLine => 'message' in line;

/** A line longer than this is invalid and skipped without being held (a manifest line is a few hundred bytes). */
export const MAX_LINE_BYTES = 1 << 20;

/**
 * The lines of a byte stream, numbered from 1, each decoded as UTF-8 on its own (a line that is
 * not valid UTF-8 is `null` text with a reason, and its neighbours are unharmed), in bounded
 * memory: a line longer than MAX_LINE_BYTES is skipped without being held.
 */
async function* textLines(
  body: AsyncIterable<Uint8Array>,
): AsyncGenerator<{ line: number; text: string | null; problem?: string }> {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let parts: Uint8Array[] = [];
  let length = 0;
  let line = 0;
  let tooLong = false;
  const take = (bytes: Uint8Array) => {
    if (tooLong || !bytes.length) return;
    length += bytes.length;
    if (length > MAX_LINE_BYTES) {
      tooLong = true;
      parts = [];
    } else parts.push(bytes);
  };
  const finish = () => {
    line++;
    const bytes = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    const wasTooLong = tooLong;
    parts = [];
    length = 0;
    tooLong = false;
    if (wasTooLong) return { line, text: null, problem: `the line is longer than ${MAX_LINE_BYTES} bytes` };
    try {
      return { line, text: utf8.decode(bytes).replace(/\r$/, '') };
    } catch {
      return { line, text: null, problem: 'the line is not valid UTF-8' };
    }
  };
  for await (const chunk of body) {
    // A newline byte is never part of a multi-byte UTF-8 character: lines split on bytes.
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      take(chunk.subarray(start, nl));
      yield finish();
      start = nl + 1;
    }
    take(chunk.subarray(start));
  }
  if (length || tooLong) yield finish();
}

/**
 * How a CSV manifest is read wherever it is read (ingest, `fusebatch estimate`): a header row, a
 * byte-order mark dropped, and relax_quotes, so that a quote inside an unquoted field (a sign
 * reading "STOP") is text, as people write it.
 */
export const CSV_MANIFEST_OPTIONS = {
  columns: true,
  bom: true,
  skip_empty_lines: true,
  relax_column_count: true,
  relax_quotes: true,
} as const;

/**
 * The manifest's lines, checked, as a stream: memory stays bounded whatever the manifest's
 * size (a line at a time, plus the ids' hash set). Blank lines are not lines.
 */
export async function* readManifestLines(
  body: AsyncIterable<Uint8Array>,
  format: 'jsonl' | 'csv',
  needs: PairNeeds,
): AsyncGenerator<JobPair | InvalidLine> {
  const checker = new ManifestLineChecker(needs);
  if (format === 'csv') {
    const parser = Readable.from(body).pipe(parseCsvStream({ ...CSV_MANIFEST_OPTIONS, info: true }));
    try {
      for await (const { record, info } of parser as AsyncIterable<{
        record: Record<string, string>;
        info: { lines: number };
      }>) {
        yield checker.check(info.lines, record);
      }
    } catch (error) {
      // csv-parse's own errors are the file's (an unclosed quote): nothing after them can be read.
      const code = (error as { code?: string }).code;
      if (code?.startsWith('CSV_'))
        throw new ManifestUnreadableError(`not a readable CSV: ${(error as Error).message}`);
      throw error;
    }
    return;
  }
  for await (const { line, text, problem } of textLines(body)) {
    if (text === null) {
      yield checker.check(line, null, problem);
      continue;
    }
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '') : text;
    if (!trimmed.trim()) continue;
    let value: unknown;
    let error: string | undefined;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      error = `not valid JSON (${(e as Error).message})`;
    }
    yield checker.check(line, value ?? null, error);
  }
}

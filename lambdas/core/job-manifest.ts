/**
 * Manifest jobs: `jobs/<job>.jsonl` (one JSON object a line) or `jobs/<job>.csv` (with a
 * header), each line `{ id, image, text }` plus any extra fields, which are carried through
 * to the line's record. A line needs only the halves the model reads: `image` for a model with
 * an image input, `text` for one with a text input; a half it does not read is dropped. Every
 * line is accounted for: a valid line becomes a pair of some chunk, an invalid one an
 * INPUT_INVALID error naming its line number. Blank lines are not lines.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { z } from 'zod';
import { formatIssues, type PairNeeds } from './manifest.js';

const SAFE_ID = /^(?!\/)(?!.*(?:^|\/)\.\.?(?:\/|$))[^\0]+$/;

const idField = z
  .string()
  .min(1, 'id must not be empty')
  .max(512)
  .regex(SAFE_ID, 'id must be a relative path without . or .. segments');

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
      image: needs.image ? required('image').min(1, 'image must name an object key') : z.unknown().optional(),
      text: needs.text ? required('text') : z.unknown().optional(),
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

export interface ParsedManifest {
  readonly pairs: JobPair[];
  readonly invalid: InvalidLine[];
}

function rawLines(body: string, format: 'jsonl' | 'csv'): { line: number; value: unknown; error?: string }[] {
  if (format === 'csv') {
    const rows = parseCsv(body, {
      columns: true,
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
    }) as { record: Record<string, string>; info: { lines: number; invalid_field_length: number } }[];
    return rows.map(({ record, info }) => ({ line: info.lines, value: record }));
  }
  const out: { line: number; value: unknown; error?: string }[] = [];
  body
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((text, i) => {
      if (!text.trim()) return;
      try {
        out.push({ line: i + 1, value: JSON.parse(text) });
      } catch (error) {
        out.push({ line: i + 1, value: null, error: `not valid JSON (${(error as Error).message})` });
      }
    });
  return out;
}

const str = (v: unknown) => (typeof v === 'string' ? v : null);

/** Validates every line; throws only when the manifest as a whole cannot be read (a broken CSV). */
export function parseJobManifest(body: string, format: 'jsonl' | 'csv', needs: PairNeeds): ParsedManifest {
  const schema = manifestLineSchema(needs);
  const pairs: JobPair[] = [];
  const invalid: InvalidLine[] = [];
  const seen = new Set<string>();
  for (const { line, value, error } of rawLines(body, format)) {
    const record = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
    const fallback = {
      line,
      id: str(record.id) || `line-${line}`,
      image: str(record.image),
      text: str(record.text),
    };
    if (error || !value || typeof value !== 'object' || Array.isArray(value)) {
      invalid.push({ ...fallback, message: `line ${line}: ${error ?? 'a line must be a JSON object'}` });
      continue;
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      invalid.push({ ...fallback, message: `line ${line}: ${formatIssues(parsed.error).join('; ')}` });
      continue;
    }
    const { id, image, text, ...extra } = parsed.data;
    if (seen.has(id)) {
      invalid.push({
        ...fallback,
        id: `${id}#line-${line}`,
        message: `line ${line}: duplicate id '${id}' (ids must be unique in a job)`,
      });
      continue;
    }
    seen.add(id);
    pairs.push({
      line,
      id,
      ...(needs.image ? { image: image as string } : {}),
      ...(needs.text ? { text: text as string } : {}),
      ...(Object.keys(extra).length ? { extra } : {}),
    });
  }
  return { pairs, invalid };
}

/** Consecutive chunks of at most `size` pairs. */
export function chunkPairs<T>(pairs: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const chunks: T[][] = [];
  for (let i = 0; i < pairs.length; i += size) chunks.push(pairs.slice(i, i + size));
  return chunks;
}

/**
 * Records as JSON Lines, CSV (flattened columns) or an aligned table, streamed: a job of any
 * size is printed with a window of rows in memory, never the whole job.
 */
import { ERROR_CODE_NAMES } from '../lambdas/core/errors.js';
import { kindOfResult } from '../lambdas/core/kinds/index.js';
import type { OutputRecord } from '../lambdas/core/records.js';

export const RECORD_FORMATS = ['jsonl', 'csv', 'table'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

/** Rows read before the columns (and a table's widths) are fixed; only these are held. */
export const COLUMN_WINDOW = 1000;
/** Widest a table column gets; longer values are cut. */
const MAX_WIDTH = 40;

/** One flat row per record: id, status, error code, and each task's headline value. */
export function flatten(record: OutputRecord): Record<string, string> {
  const row: Record<string, string> = { id: record.id, status: record.status, text: record.inputs.text ?? '' };
  if (record.status === 'error') {
    row.error = record.error.code;
    return row;
  }
  // Records are read here without their manifest: each result's kind is the one its shape matches.
  for (const [name, result] of Object.entries(record.tasks)) {
    const kind = kindOfResult(result);
    if (kind) row[name] = kind.cell(result);
  }
  return row;
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export interface FormatOptions {
  /** Rows that fix the columns (default COLUMN_WINDOW). */
  readonly window?: number;
  /** Told once per column that first appears after the window (and is left out). */
  readonly onNote?: (note: string) => void;
}

const FIRST = ['id', 'status', 'text'];
const LAST = 'error';

/**
 * The columns of the first rows: id, status, text, the task columns in the order they appear,
 * and error last. Error is always a column: a job's errors parts are listed after its results,
 * so the first rows of a job with errors often have none.
 */
function columnsOf(rows: readonly Record<string, string>[]): string[] {
  const tasks = new Set<string>();
  for (const r of rows) for (const c of Object.keys(r)) if (!FIRST.includes(c) && c !== LAST) tasks.add(c);
  return [...FIRST, ...tasks, LAST];
}

export async function* formatRecords(
  records: AsyncIterable<OutputRecord>,
  format: RecordFormat,
  options: FormatOptions = {},
): AsyncGenerator<string> {
  if (format === 'jsonl') {
    for await (const r of records) yield JSON.stringify(r) + '\n';
    return;
  }
  const size = options.window ?? COLUMN_WINDOW;
  const iterator = records[Symbol.asyncIterator]();
  const head: Record<string, string>[] = [];
  while (head.length < size) {
    const next = await iterator.next();
    if (next.done) break;
    head.push(flatten(next.value));
  }
  const columns = columnsOf(head);
  const known = new Set(columns);
  const rest = async function* () {
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      const row = flatten(next.value);
      for (const c of Object.keys(row)) {
        if (known.has(c)) continue;
        known.add(c);
        options.onNote?.(`column ${c} first appears after the first ${size} rows and is left out`);
      }
      yield row;
    }
  };

  let line: (row: Record<string, string>) => string;
  if (format === 'csv') {
    line = (row) => columns.map((c) => csvCell(row[c] ?? '')).join(',') + '\n';
    yield columns.join(',') + '\n';
  } else {
    const longestCode = Math.max(...ERROR_CODE_NAMES.map((c) => c.length));
    const widths = columns.map((c) =>
      Math.min(
        MAX_WIDTH,
        head.reduce((w, r) => Math.max(w, (r[c] ?? '').length), Math.max(c.length, c === LAST ? longestCode : 0)),
      ),
    );
    // A later value wider than its column is cut to it, as the window's own are.
    const cells = (values: string[]) =>
      values
        .map((v, i) => v.slice(0, widths[i]).padEnd(widths[i]))
        .join('  ')
        .trimEnd() + '\n';
    line = (row) => cells(columns.map((c) => row[c] ?? ''));
    yield cells(columns);
  }
  for (const row of head) yield line(row);
  head.length = 0; // the window's rows are printed: let them go
  for await (const row of rest()) yield line(row);
}

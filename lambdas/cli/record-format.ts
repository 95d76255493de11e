/** Records as JSON Lines, CSV (flattened columns) or an aligned table. */
import { kindOfResult } from '../core/kinds/index.js';
import type { OutputRecord } from '../core/records.js';

export const RECORD_FORMATS = ['jsonl', 'csv', 'table'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

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

const csvCell = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export async function* formatRecords(
  records: AsyncIterable<OutputRecord>,
  format: RecordFormat,
): AsyncGenerator<string> {
  if (format === 'jsonl') {
    for await (const r of records) yield JSON.stringify(r) + '\n';
    return;
  }
  const rows: Record<string, string>[] = [];
  for await (const r of records) rows.push(flatten(r));
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  if (format === 'csv') {
    yield columns.join(',') + '\n';
    for (const r of rows) yield columns.map((c) => csvCell(r[c] ?? '')).join(',') + '\n';
    return;
  }
  const widths = columns.map((c) => Math.min(40, Math.max(c.length, ...rows.map((r) => (r[c] ?? '').length))));
  const line = (cells: string[]) =>
    cells
      .map((v, i) => v.slice(0, widths[i]).padEnd(widths[i]))
      .join('  ')
      .trimEnd() + '\n';
  yield line(columns);
  for (const r of rows) yield line(columns.map((c) => r[c] ?? ''));
}

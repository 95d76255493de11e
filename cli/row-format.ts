/** Rows of a query's answer as JSON Lines, CSV or an aligned table. */
export const ROW_FORMATS = ['table', 'jsonl', 'csv'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

/** Widest a table cell gets before it is cut (with an ellipsis); jsonl and csv never cut. */
const MAX_CELL = 60;

/** A value as one cell: nested values (structs, lists, maps) as JSON, NULL as empty. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const cut = (v: string) => (v.length > MAX_CELL ? `${v.slice(0, MAX_CELL - 1)}…` : v);

export function formatRows(columns: readonly string[], rows: readonly Record<string, unknown>[], format: RowFormat) {
  if (format === 'jsonl') {
    return rows.map((r) => JSON.stringify(Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))) + '\n').join('');
  }
  const cells = rows.map((r) => columns.map((c) => cellText(r[c])));
  if (format === 'csv') {
    return [columns, ...cells].map((line) => line.map(csvCell).join(',') + '\n').join('');
  }
  const shown = cells.map((line) => line.map((v) => cut(v.replace(/\s+/g, ' '))));
  // Numbers align right, as a reader compares their magnitudes.
  const numeric = columns.map(
    (c) => rows.some((r) => typeof r[c] === 'number') && rows.every((r) => r[c] === null || typeof r[c] === 'number'),
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...shown.map((line) => line[i].length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (numeric[i] ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd() + '\n';
  const rule = widths.map((w) => '-'.repeat(w)).join('  ') + '\n';
  const count = `(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})\n`;
  return line([...columns]) + rule + shown.map(line).join('') + count;
}

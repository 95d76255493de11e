/**
 * Local SQL over the results: which objects are rows, and the DuckDB view that gives them the
 * results table's name and columns (result-table.ts), so that a query written for Athena runs
 * here too. Pure: the adapter downloads the records and runs DuckDB.
 */
import { jobKeys, PREFIXES } from './keys.js';
import type { ModelManifest } from './manifest.js';
import { duckdbColumns, RECORD_FILE_EXTENSIONS, RESULTS_TABLE } from './result-table.js';

/**
 * Whether a key under results/ is a row of the table, read as Athena reads the table's
 * location: record files only, skipping any file or folder whose name starts with `_` or `.`
 * (masks, _SUCCESS).
 */
export function isRecordKey(key: string): boolean {
  if (!key.startsWith(PREFIXES.results)) return false;
  const segments = key.slice(PREFIXES.results.length).split('/');
  if (segments.some((s) => s.startsWith('_') || s.startsWith('.'))) return false;
  const name = segments[segments.length - 1];
  const dot = name.lastIndexOf('.');
  return dot > 0 && (RECORD_FILE_EXTENSIONS as readonly string[]).includes(name.slice(dot + 1));
}

/** Where a query's records are listed: one job's parts and errors, or all of results/. */
export const recordPrefixes = (job?: string): string[] =>
  job ? [jobKeys.partsPrefix(job), jobKeys.errorsPrefix(job)] : [PREFIXES.results];

/**
 * Run before a query, so that more of Athena's (Trino's) SQL means the same here: integer
 * division of integers, and Trino's names for a few DuckDB functions. What still differs is
 * listed in docs/query.md.
 */
export const TRINO_COMPATIBILITY_SQL: readonly string[] = [
  'SET integer_division = true',
  'CREATE MACRO regexp_like(s, pattern) AS regexp_matches(s, pattern)',
  'CREATE MACRO approx_percentile(x, p) AS approx_quantile(x, p)',
  'CREATE MACRO array_join(a, separator) AS array_to_string(a, separator)',
  'CREATE MACRO array_max(a) AS list_max(a)',
  'CREATE MACRO array_min(a) AS list_min(a)',
];

/** A SQL string literal. */
export const sqlString = (value: string) => `'${value.replace(/'/g, "''")}'`;

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The `results` view over JSON Lines files. With no file, an empty relation with the same
 * columns (read_json refuses an empty list), so a query on an empty bucket still runs.
 */
export function resultsViewSql(manifest: ModelManifest, files: readonly string[]): string {
  const columns = duckdbColumns(manifest);
  const create = `CREATE OR REPLACE VIEW ${RESULTS_TABLE} AS `;
  if (files.length === 0) {
    const nulls = Object.entries(columns).map(([name, type]) => `CAST(NULL AS ${type}) AS ${quoteIdent(name)}`);
    return `${create}SELECT ${nulls.join(', ')} LIMIT 0`;
  }
  const struct = Object.entries(columns)
    .map(([name, type]) => `${sqlString(name)}: ${sqlString(type)}`)
    .join(', ');
  return (
    `${create}SELECT * FROM read_json([${files.map(sqlString).join(', ')}], ` +
    `format = 'newline_delimited', columns = {${struct}})`
  );
}

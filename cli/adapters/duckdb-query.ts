/**
 * DuckDB (in process, no server) over JSON Lines files of records: the `results` view from
 * core/query.ts (with Trino's integer division and a few of its function names), then the
 * user's SQL. Values come back as JSON: integers as numbers where they fit, maps as objects.
 */
import {
  DuckDBInstance,
  DuckDBTypeId,
  type DuckDBValueConverter,
  doubleFromDecimalValue,
  type Json,
  JsonDuckDBValueConverter,
  objectArrayFromMapValue,
} from '@duckdb/node-api';
import { FusebatchError } from '../../lambdas/core/errors.js';
import type { ModelManifest } from '../../lambdas/core/manifest.js';
import { resultsViewSql, TRINO_COMPATIBILITY_SQL } from '../../lambdas/core/query.js';

export interface QueryResult {
  readonly columns: string[];
  readonly rows: Record<string, Json>[];
}

/** A query DuckDB refused or failed to run: its message says why. */
export class QueryError extends FusebatchError {
  override name = 'QueryError';
}

const WIDE_INTEGERS = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
]);

const toJson: DuckDBValueConverter<Json> = (value, type, converter) => {
  if (value === null) return null;
  if (WIDE_INTEGERS.has(type.typeId)) {
    // count(*) is a BIGINT: a number unless it would lose digits.
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : String(value);
  }
  if (type.typeId === DuckDBTypeId.DECIMAL) return doubleFromDecimalValue(value);
  if (type.typeId === DuckDBTypeId.MAP) {
    return Object.fromEntries(objectArrayFromMapValue(value, type, converter).map((e) => [String(e.key), e.value]));
  }
  return JsonDuckDBValueConverter(value, type, converter);
};

/** Runs `sql` against the `results` view over `files` (JSON Lines of records). */
export async function queryRecordFiles(
  manifest: ModelManifest,
  files: readonly string[],
  sql: string,
): Promise<QueryResult> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    for (const statement of TRINO_COMPATIBILITY_SQL) await connection.run(statement);
    await connection.run(resultsViewSql(manifest, files));
    let reader: Awaited<ReturnType<typeof connection.runAndReadAll>>;
    try {
      reader = await connection.runAndReadAll(sql);
    } catch (error) {
      throw new QueryError((error as Error).message, { cause: error });
    }
    return { columns: reader.columnNames(), rows: reader.convertRowObjects(toJson) as Record<string, Json>[] };
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

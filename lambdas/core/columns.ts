/**
 * Column types of the results table, written once and rendered for each SQL engine that reads
 * the records: Hive types for the Glue table that Athena queries, DuckDB types for local queries.
 * Both engines get their types from here, so the two tables cannot drift apart.
 */
export type ColumnType =
  | { readonly kind: 'string' | 'double' | 'int' | 'bigint' | 'boolean' }
  | { readonly kind: 'array'; readonly of: ColumnType }
  | { readonly kind: 'map'; readonly value: ColumnType }
  | { readonly kind: 'struct'; readonly fields: readonly Column[] };

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
}

export const col = {
  string: { kind: 'string' } as ColumnType,
  double: { kind: 'double' } as ColumnType,
  int: { kind: 'int' } as ColumnType,
  bigint: { kind: 'bigint' } as ColumnType,
  boolean: { kind: 'boolean' } as ColumnType,
  array: (of: ColumnType): ColumnType => ({ kind: 'array', of }),
  /** Keys are always strings: JSON object keys. */
  map: (value: ColumnType): ColumnType => ({ kind: 'map', value }),
  struct: (fields: Record<string, ColumnType>): ColumnType => ({
    kind: 'struct',
    fields: Object.entries(fields).map(([name, type]) => ({ name, type })),
  }),
};

/** Hive type syntax, as Glue stores it and Athena reads it. */
export function hiveType(type: ColumnType): string {
  // (`map` here is SQL's map type, not the task kind of that name.)
  if (type.kind === 'array') return `array<${hiveType(type.of)}>`;
  if (type.kind === 'map') return `map<string,${hiveType(type.value)}>`;
  if (type.kind === 'struct') return `struct<${type.fields.map((f) => `${f.name}:${hiveType(f.type)}`).join(',')}>`;
  return type.kind;
}

const DUCKDB_SCALARS = { string: 'VARCHAR', double: 'DOUBLE', int: 'INTEGER', bigint: 'BIGINT', boolean: 'BOOLEAN' };

/** DuckDB type syntax, for read_json's `columns`. */
export function duckdbType(type: ColumnType): string {
  if (type.kind === 'array') return `${duckdbType(type.of)}[]`;
  if (type.kind === 'map') return `MAP(VARCHAR, ${duckdbType(type.value)})`;
  if (type.kind === 'struct') {
    return `STRUCT(${type.fields.map((f) => `"${f.name}" ${duckdbType(f.type)}`).join(', ')})`;
  }
  return DUCKDB_SCALARS[type.kind];
}

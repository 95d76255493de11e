/**
 * The results table: one row per record (result or error) under results/, with the same name
 * and columns in Athena (the Glue table the CDK app defines) and locally (`fusebatch query`).
 * Columns follow records.ts; `tasks` has one field per task of the model's manifest, typed by
 * the task's kind.
 */
import { type Column, type ColumnType, col, duckdbType, hiveType } from './columns.js';
import { kindOf } from './kinds/index.js';
import type { ModelManifest } from './manifest.js';

export const RESULTS_TABLE = 'results';

/** Record files under results/: everything else there (masks, _SUCCESS) is not a row. */
export const RECORD_FILE_EXTENSIONS = ['json', 'jsonl'] as const;

export function resultColumns(manifest: ModelManifest): Column[] {
  const tasks: Record<string, ColumnType> = Object.fromEntries(
    manifest.tasks.map((task) => [task.name, kindOf(task).column(task)]),
  );
  const fields: Record<string, ColumnType> = {
    id: col.string,
    status: col.string,
    // The halves the model reads.
    inputs: col.struct({
      ...(manifest.inputs.image ? { image: col.string } : {}),
      ...(manifest.inputs.text ? { text: col.string } : {}),
    }),
    // Manifest fields carried through; values read as text in both engines.
    extra: col.map(col.string),
    model: col.struct({ name: col.string, version: col.string, sha256: col.string }),
    engine: col.string,
    tasks: col.struct(tasks),
    error: col.struct({ code: col.string, message: col.string }),
    timing: col.struct({ ms: col.double }),
  };
  return Object.entries(fields).map(([name, type]) => ({ name, type }));
}

/** Glue's column list: name and Hive type. */
export const glueColumns = (manifest: ModelManifest) =>
  resultColumns(manifest).map((c) => ({ name: c.name, type: hiveType(c.type) }));

/** DuckDB's read_json `columns` argument: name → DuckDB type. */
export const duckdbColumns = (manifest: ModelManifest): Record<string, string> =>
  Object.fromEntries(resultColumns(manifest).map((c) => [c.name, duckdbType(c.type)]));

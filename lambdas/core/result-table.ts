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
/** The same columns over results/jobs/ only, partitioned by job: `WHERE job = '...'` reads one job's objects. */
export const JOB_RESULTS_TABLE = 'job_results';
/** The partition column of JOB_RESULTS_TABLE: the job's name. */
export const JOB_PARTITION = 'job';

/**
 * Glue table parameters that make Athena compute a job's location from the query instead of
 * listing partitions: an `injected` projection substitutes the value of `job` given in the
 * WHERE clause literally into the template (so a job named `a/b` reads `jobs/a/b/`).
 * `jobsLocation` is the S3 URI of results/jobs/, ending with a slash.
 */
export const jobPartitionProjection = (jobsLocation: string): Record<string, string> => ({
  'projection.enabled': 'true',
  [`projection.${JOB_PARTITION}.type`]: 'injected',
  'storage.location.template': `${jobsLocation}\${${JOB_PARTITION}}/`,
});

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

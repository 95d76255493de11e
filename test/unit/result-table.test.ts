import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { ColumnType } from '../../lambdas/core/columns.js';
import { duckdbType, hiveType } from '../../lambdas/core/columns.js';
import { kindOf } from '../../lambdas/core/kinds/index.js';
import { ModelManifestSchema } from '../../lambdas/core/manifest.js';
import { ErrorRecordSchema, ResultRecordSchema } from '../../lambdas/core/records.js';
import { duckdbColumns, glueColumns, resultColumns } from '../../lambdas/core/result-table.js';

const manifest = ModelManifestSchema.parse(
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../models/reference/model.json'), 'utf8')),
);

/** A struct's field names; a list's element's, for kinds whose result is a list. */
const fieldNames = (type: ColumnType | undefined): string[] =>
  type?.kind === 'struct' ? type.fields.map((f) => f.name) : type?.kind === 'array' ? fieldNames(type.of) : [];
/** An object schema's keys; a list's element's. */
const schemaKeys = (schema: z.ZodType): string[] =>
  schema instanceof z.ZodArray ? schemaKeys(schema.element as z.ZodType) : Object.keys((schema as z.ZodObject).shape);

describe('Results table: columns from the manifest and the record schemas', () => {
  it('has a column for every top-level field of both record kinds', () => {
    // Act
    const names = resultColumns(manifest).map((c) => c.name);
    // Assess
    const recordFields = new Set([...Object.keys(ResultRecordSchema.shape), ...Object.keys(ErrorRecordSchema.shape)]);
    expect(new Set(names)).toEqual(recordFields);
  });

  it('gives tasks one field per manifest task, shaped as each kind’s result schema', () => {
    // Act
    const tasks = resultColumns(manifest).find((c) => c.name === 'tasks')?.type;
    // Assess
    expect(fieldNames(tasks)).toEqual(manifest.tasks.map((t) => t.name));
    for (const task of manifest.tasks) {
      const field = tasks?.kind === 'struct' ? tasks.fields.find((f) => f.name === task.name) : undefined;
      expect(fieldNames(field?.type), task.kind).toEqual(schemaKeys(kindOf(task).resultSchema));
    }
  });

  it('renders Hive types for Glue and DuckDB types for local queries from the same tree', () => {
    // Act
    const glue = Object.fromEntries(glueColumns(manifest).map((c) => [c.name, c.type]));
    const duck = duckdbColumns(manifest);
    // Assess
    expect(glue.inputs).toBe('struct<image:string,text:string>');
    expect(glue.extra).toBe('map<string,string>');
    expect(glue.tasks).toContain('colors:struct<labels:array<string>,scores:map<string,double>>');
    expect(glue.tasks).toContain('box:struct<x:int,y:int,width:int,height:int>');
    expect(duck.tasks).toContain('"top" STRUCT("label" VARCHAR, "score" DOUBLE)[]');
    expect(duck.extra).toBe('MAP(VARCHAR, VARCHAR)');
    expect(hiveType({ kind: 'array', of: { kind: 'bigint' } })).toBe('array<bigint>');
    expect(duckdbType({ kind: 'array', of: { kind: 'bigint' } })).toBe('BIGINT[]');
  });

  it('follows a second model with other tasks with no code change', () => {
    // Prepare
    const other = ModelManifestSchema.parse({
      ...manifest,
      tasks: [{ name: 'quality', kind: 'regression', output: 'q', activation: 'identity' }],
    });
    // Act
    const glue = Object.fromEntries(glueColumns(other).map((c) => [c.name, c.type]));
    // Assess
    expect(glue.tasks).toBe('struct<quality:struct<value:double>>');
  });
});

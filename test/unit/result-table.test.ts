import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ColumnType } from '../../lambdas/core/columns.js';
import { duckdbType, hiveType } from '../../lambdas/core/columns.js';
import { ClassificationResultSchema } from '../../lambdas/core/kinds/classification.js';
import { MultilabelResultSchema } from '../../lambdas/core/kinds/multilabel.js';
import { RegressionResultSchema } from '../../lambdas/core/kinds/regression.js';
import { ScoreResultSchema } from '../../lambdas/core/kinds/score.js';
import { SegmentationResultSchema } from '../../lambdas/core/kinds/segmentation.js';
import { ModelManifestSchema } from '../../lambdas/core/manifest.js';
import { ErrorRecordSchema, ResultRecordSchema } from '../../lambdas/core/records.js';
import { duckdbColumns, glueColumns, resultColumns } from '../../lambdas/core/result-table.js';

const manifest = ModelManifestSchema.parse(
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../models/reference/model.json'), 'utf8')),
);

const fieldNames = (type: ColumnType | undefined) => (type?.kind === 'struct' ? type.fields.map((f) => f.name) : []);

describe('Results table: columns from the manifest and the record schemas', () => {
  it('has a column for every top-level field of both record kinds', () => {
    // Act
    const names = resultColumns(manifest).map((c) => c.name);
    // Assess
    const recordFields = new Set([...Object.keys(ResultRecordSchema.shape), ...Object.keys(ErrorRecordSchema.shape)]);
    expect(new Set(names)).toEqual(recordFields);
  });

  it('gives tasks one field per manifest task, shaped as each kind’s result schema', () => {
    // Prepare
    const shapes = {
      classification: ClassificationResultSchema,
      multilabel: MultilabelResultSchema,
      score: ScoreResultSchema,
      regression: RegressionResultSchema,
      segmentation: SegmentationResultSchema,
    };
    // Act
    const tasks = resultColumns(manifest).find((c) => c.name === 'tasks')?.type;
    // Assess
    expect(fieldNames(tasks)).toEqual(manifest.tasks.map((t) => t.name));
    for (const task of manifest.tasks) {
      const field = tasks?.kind === 'struct' ? tasks.fields.find((f) => f.name === task.name) : undefined;
      expect(fieldNames(field?.type), task.kind).toEqual(Object.keys(shapes[task.kind].shape));
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

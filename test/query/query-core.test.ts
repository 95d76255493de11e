import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryError, queryRecordFiles } from '../../cli/adapters/duckdb-query.js';
import { formatRows } from '../../cli/row-format.js';
import { ModelManifestSchema } from '../../lambdas/core/manifest.js';
import { isRecordKey, recordPrefixes, resultsViewSql, sqlString } from '../../lambdas/core/query.js';
import { duckdbColumns } from '../../lambdas/core/result-table.js';

const manifest = ModelManifestSchema.parse(
  JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../models/reference/model.json'), 'utf8')),
);

describe('Query: which objects are rows', () => {
  it.each([
    ['results/pairs/a.json', true],
    ['results/pairs/nested/b c.json', true],
    ['results/jobs/j/parts/00000.jsonl', true],
    ['results/jobs/j/errors/invalid.jsonl', true],
    ['results/pairs/_masks/a.mask.png', false],
    ['results/jobs/j/_masks/a.mask.png', false],
    ['results/jobs/j/_SUCCESS', false],
    ['results/jobs/j/parts/.00000.jsonl.tmp', false],
    ['results/jobs/j/_tmp/00000.jsonl', false],
    ['results/pairs/a.txt', false],
    ['state/jobs/j/status.json', false],
    ['jobs/j.jsonl', false],
  ])('reads %s: %s', (key, expected) => {
    expect(isRecordKey(key)).toBe(expected);
  });

  it('lists one job’s parts and errors, or all of results/', () => {
    expect(recordPrefixes('j')).toEqual(['results/jobs/j/parts/', 'results/jobs/j/errors/']);
    expect(recordPrefixes()).toEqual(['results/']);
  });
});

describe('Query: the results view in DuckDB', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-query-core-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('has the table’s columns and types, with or without files', async () => {
    // Prepare
    const file = path.join(dir, "it's.jsonl");
    await writeFile(file, '{"id":"a","status":"ok"}\n');
    // Act
    const empty = await queryRecordFiles(manifest, [], 'DESCRIBE results');
    const full = await queryRecordFiles(manifest, [file], 'DESCRIBE results');
    // Assess
    const expected = Object.entries(duckdbColumns(manifest)).map(([name, type]) => [name, type.replace(/"/g, '')]);
    for (const described of [empty, full]) {
      expect(described.rows.map((r) => [r.column_name, String(r.column_type).replace(/"/g, '')])).toEqual(expected);
    }
    expect(resultsViewSql(manifest, [file])).toContain(sqlString(file));
    expect(sqlString("it's")).toBe("'it''s'");
  });

  it('reads nested fields, lists, maps and extra fields as text; numbers come back as numbers', async () => {
    // Prepare
    const file = path.join(dir, 'one.jsonl');
    const record = {
      id: 'p',
      status: 'ok',
      extra: { camera: 7, site: 'north', flags: { a: 1 } },
      tasks: {
        shape: { label: 'star', score: 0.75, top: [{ label: 'star', score: 0.75 }] },
        colors: { labels: ['red'], scores: { red: 0.9, blue: 0.1 } },
      },
      unknown: 'ignored',
    };
    await writeFile(file, JSON.stringify(record)); // no final newline
    // Act
    const { columns, rows } = await queryRecordFiles(
      manifest,
      [file],
      `SELECT tasks.shape.top[1].score AS s, tasks.colors.scores['red'] AS red, extra['camera'] AS camera,
              extra['flags'] AS flags, try(extra['nope']) AS nope, tasks.colors.scores AS scores,
              count(*) OVER () AS n, 7 / 2 AS div, regexp_like(id, '^p$') AS re,
              array_join(tasks.colors.labels, '|') AS joined, array_max([1, 3, 2]) AS mx
       FROM results`,
    );
    // Assess
    expect(columns).toEqual(['s', 'red', 'camera', 'flags', 'nope', 'scores', 'n', 'div', 're', 'joined', 'mx']);
    expect(rows).toEqual([
      {
        s: 0.75,
        red: 0.9,
        camera: '7',
        flags: '{"a":1}',
        nope: null,
        scores: { red: 0.9, blue: 0.1 },
        n: 1,
        div: 3,
        re: true,
        joined: 'red',
        mx: 3,
      },
    ]);
  });

  it('refuses bad SQL with DuckDB’s own message', async () => {
    await expect(queryRecordFiles(manifest, [], 'SELECT nope FROM results')).rejects.toThrow(QueryError);
    await expect(queryRecordFiles(manifest, [], 'SELEC 1')).rejects.toThrow(/syntax error/i);
  });
});

describe('Query: output formats', () => {
  const columns = ['label', 'n', 'top'];
  const rows = [
    { label: 'a, "quoted"', n: 12, top: [{ label: 'x' }] },
    { label: 'b', n: null, top: null },
  ];

  it('writes JSON Lines in column order with NULLs kept', () => {
    expect(
      formatRows(columns, rows, 'jsonl')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual([
      { label: 'a, "quoted"', n: 12, top: [{ label: 'x' }] },
      { label: 'b', n: null, top: null },
    ]);
  });

  it('writes CSV with quoting and nested values as JSON', () => {
    expect(formatRows(columns, rows, 'csv')).toBe('label,n,top\n"a, ""quoted""",12,"[{""label"":""x""}]"\nb,,\n');
  });

  it('writes an aligned table, numbers to the right, and the row count', () => {
    expect(formatRows(columns, rows, 'table').split('\n')).toEqual([
      'label         n  top',
      '-----------  --  ---------------',
      'a, "quoted"  12  [{"label":"x"}]',
      'b',
      '(2 rows)',
      '',
    ]);
  });
});

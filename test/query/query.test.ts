/**
 * `fusebatch query` over a real bucket: the embedded S3 server with a job and single pairs
 * processed by the real pipeline and model; answers checked against the records themselves.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Json } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectCache } from '../../cli/adapters/object-cache.js';
import { sendPair } from '../../cli/bucket-commands.js';
import { queryBucket } from '../../cli/query.js';
import { pairKeys } from '../../lambdas/core/keys.js';
import type { ClassificationResult } from '../../lambdas/core/kinds/classification.js';
import type { MultilabelResult } from '../../lambdas/core/kinds/multilabel.js';
import type { ScoreResult } from '../../lambdas/core/kinds/score.js';
import type { SegmentationResult } from '../../lambdas/core/kinds/segmentation.js';
import type { SemanticSegmentationResult } from '../../lambdas/core/kinds/semantic-segmentation.js';
import type { ModelManifest } from '../../lambdas/core/manifest.js';
import { type OutputRecord, OutputRecordSchema, type ResultRecord } from '../../lambdas/core/records.js';
import { type LocalPipeline, startLocalPipeline } from '../../local/local-pipeline.js';
import { type EvalJob, pipelineOptions, runEvalJob } from '../helpers/eval-job.js';
import { evalDir, readTruthLines } from '../helpers/runtime.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/fusebatch.mjs');
const JOB = 'query-job';

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;
const ok = (records: OutputRecord[]) => records.filter((r): r is ResultRecord => r.status === 'ok');
const shape = (r: ResultRecord) => r.tasks.shape as ClassificationResult;
const mask = (r: ResultRecord) => r.tasks.mask as SegmentationResult;
const countBy = <T>(items: T[], key: (item: T) => string) => {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
};

/** The README's example queries: the ```sql blocks of its "Query results" section, Athena's left out. */
async function readmeQueries(): Promise<string[]> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('## Query results'),
    readme.indexOf('\n## ', readme.indexOf('## Query results') + 1),
  );
  return (
    [...section.matchAll(/```sql\n([\s\S]*?)```/g)]
      .map((m) => m[1].trim())
      // Athena's own (job_results, "$path") are left out; the reference model has no embedding: test/infra/stack.test.ts runs that one.
      .filter((q) => !q.includes('"$path"') && !q.includes('job_results') && !q.includes('tasks.embedding'))
  );
}

/** What each README query must answer, computed from the records. */
function expectedAnswer(query: string, records: OutputRecord[]): (rows: Record<string, Json>[]) => void {
  const results = ok(records);
  if (query.includes('NOT tasks.match.positive')) {
    return (rows) => {
      const mismatched = new Map(results.filter((r) => !(r.tasks.match as ScoreResult).positive).map((r) => [r.id, r]));
      expect(mismatched.size).toBeGreaterThan(0);
      expect(rows).toHaveLength(Math.min(10, mismatched.size));
      for (const row of rows) {
        const r = mismatched.get(String(row.id))!;
        expect(row).toMatchObject({
          caption: r.inputs.text,
          shape: shape(r).label,
          colors: (r.tasks.colors as MultilabelResult).labels,
          match: round((r.tasks.match as ScoreResult).score, 3),
        });
      }
      const scores = rows.map((row) => Number(row.match));
      expect(scores).toEqual([...scores].sort((a, b) => a - b));
    };
  }
  if (query.includes('AS percent')) {
    return (rows) => {
      const counts = countBy(results, (r) => shape(r).label);
      expect(new Map(rows.map((row) => [row.shape, row.pairs]))).toEqual(counts);
      for (const row of rows) expect(row.percent).toBeCloseTo((100 * Number(row.pairs)) / results.length, 1);
    };
  }
  if (query.includes('tasks.shape.score < 0.9')) {
    return (rows) => {
      const low = new Map(results.filter((r) => shape(r).score < 0.9).map((r) => [r.id, r]));
      expect(rows).toHaveLength(Math.min(10, low.size));
      for (const row of rows) {
        const r = low.get(String(row.id))!;
        expect(row).toMatchObject({
          shape: shape(r).label,
          score: round(shape(r).score, 3),
          runner_up: shape(r).top[1].label,
        });
      }
    };
  }
  if (query.includes('mean_coverage')) {
    return (rows) => {
      const byLabel = new Map<string, ResultRecord[]>();
      for (const r of results) byLabel.set(shape(r).label, [...(byLabel.get(shape(r).label) ?? []), r]);
      expect(rows.map((row) => row.shape).sort()).toEqual([...byLabel.keys()].sort());
      for (const row of rows) {
        const group = byLabel.get(String(row.shape))!;
        const coverage = group.map((r) => (r.tasks.mask as SegmentationResult).coverage);
        expect(row.pairs).toBe(group.length);
        // round(…, 4) in SQL: within half a unit of the fourth decimal (a tie may round either way).
        expect(
          Math.abs(Number(row.mean_coverage) - coverage.reduce((a, b) => a + b, 0) / group.length),
        ).toBeLessThanOrEqual(0.5e-4 + 1e-12);
        expect(row.empty_masks).toBe(coverage.filter((c) => c === 0).length);
      }
    };
  }
  if (query.includes('tasks.mask.rle.counts')) {
    return (rows) => {
      const largest = [...results]
        .sort((a, b) => mask(b).coverage - mask(a).coverage || (a.id < b.id ? -1 : 1))
        .slice(0, 5);
      // cardinality is a BIGINT in DuckDB (a bigint here).
      expect(rows.map((row) => ({ ...row, classes: Number(row.classes) }))).toEqual(
        largest.map((r) => ({
          id: r.id,
          coverage: mask(r).coverage,
          size: mask(r).rle!.size,
          counts: mask(r).rle!.counts,
          classes: Object.keys((r.tasks.scene as SemanticSegmentationResult).rle!).length,
        })),
      );
    };
  }
  if (query.includes("status = 'error'")) {
    return (rows) => {
      const codes = countBy(
        records.flatMap((r) => (r.status === 'error' ? [r.error.code] : [])),
        (c) => c,
      );
      expect(codes.size).toBeGreaterThan(0);
      expect(new Map(rows.map((row) => [row.code, row.pairs]))).toEqual(codes);
    };
  }
  if (query.includes('UNNEST(tasks.colors.labels)')) {
    return (rows) => {
      const colors = countBy(
        results.flatMap((r) => (r.tasks.colors as MultilabelResult).labels),
        (c) => c,
      );
      expect(new Map(rows.map((row) => [row.color, row.pairs]))).toEqual(colors);
    };
  }
  throw new Error(`no expected answer for README query:\n${query}`);
}

describe('Query: SQL over the records in a bucket', () => {
  let dir: string;
  let pipeline: LocalPipeline;
  let job: EvalJob;
  let singles: OutputRecord[];
  let manifest: ModelManifest;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-query-'));
    // Both forms: the records carry RLE columns, and the bucket holds PNGs that are not rows.
    pipeline = await startLocalPipeline({ ...pipelineOptions(path.join(dir, 's3')), maskFormat: 'both' });
    manifest = pipeline.model.manifest;
    job = await runEvalJob(pipeline, JOB, 30);
    singles = [];
    // Two single pairs through inbox/, beside the job.
    for (const t of (await readTruthLines(evalDir)).slice(40, 42)) {
      const id = `single/${t.id}`;
      await sendPair(pipeline.store, path.join(evalDir, String(t.image)), String(t.text), { id, timeoutMs: 60_000 });
      singles.push(
        OutputRecordSchema.parse(JSON.parse(new TextDecoder().decode(await pipeline.store.get(pairKeys.result(id))))),
      );
    }
  });
  afterAll(async () => {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads every record under results/ (single pairs and jobs), and never a mask or _SUCCESS', async () => {
    // Prepare
    const keys = (await pipeline.store.list('results/')).map((o) => o.key);
    expect(keys.some((k) => k.endsWith('.png'))).toBe(true);
    expect(keys.some((k) => k.endsWith('/_SUCCESS'))).toBe(true);
    // Act
    const { rows, objects } = await queryBucket(pipeline.store, manifest, 'SELECT id, status FROM results ORDER BY id');
    // Assess
    const all = [...job.records, ...singles].map((r) => ({ id: r.id, status: r.status }));
    expect(rows).toEqual(all.sort((a, b) => (a.id < b.id ? -1 : 1)));
    expect(objects).toBe(keys.filter((k) => k.endsWith('.json') || k.endsWith('.jsonl')).length);
  });

  it("reads one job's records with --job, results and errors alike", async () => {
    // Act
    const { rows } = await queryBucket(
      pipeline.store,
      manifest,
      "SELECT id, error.code AS code, extra['batch'] AS batch FROM results ORDER BY id",
      { job: JOB },
    );
    // Assess
    expect(rows).toHaveLength(32);
    const expected = job.records
      .map((r) => ({
        id: r.id,
        code: r.status === 'error' ? r.error.code : null,
        batch: (r.extra?.batch as string | undefined) ?? null,
      }))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(rows).toEqual(expected);
    expect(rows.filter((r) => r.code !== null)).toHaveLength(2);
  });

  it('answers each of the README’s example queries as the records say', async () => {
    // Prepare
    const queries = await readmeQueries();
    expect(queries.length).toBeGreaterThanOrEqual(4);
    for (const query of queries) {
      const check = expectedAnswer(query, job.records);
      // Act
      const { rows } = await queryBucket(pipeline.store, manifest, query, { job: JOB });
      // Assess
      check(rows);
    }
  });

  it('keeps what it downloaded by the server’s ETags: the same query again downloads nothing', async () => {
    // Prepare
    const cache = new ObjectCache(path.join(dir, 'cache'), `${pipeline.endpoint}//fusebatch`);
    const sql = 'SELECT count(*) AS n FROM results';
    // Act
    const first = await queryBucket(pipeline.store, manifest, sql, { cache });
    const second = await queryBucket(pipeline.store, manifest, sql, { cache });
    // Assess
    expect(first.downloaded).toBe(first.objects);
    expect(second).toMatchObject({ objects: first.objects, downloaded: 0, rows: first.rows });
  });

  it('answers a job with no records with no rows, and the same columns', async () => {
    const { rows, objects } = await queryBucket(
      pipeline.store,
      manifest,
      'SELECT count(*) AS n, max(tasks.shape.score) AS top FROM results',
      {
        job: 'no-such-job',
      },
    );
    expect(objects).toBe(0);
    expect(rows).toEqual([{ n: 0, top: null }]);
  });

  it('runs from the command line in each format, and reports bad SQL without a stack trace', async () => {
    // Prepare
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [bin, 'query', ...args, '--job', JOB, '--endpoint', pipeline.endpoint], {
        cwd: root,
        timeout: 60_000,
        // Four at once, sharing one cache folder (never the user's own).
        env: { ...process.env, FUSEBATCH_CACHE_DIR: path.join(dir, 'cli-cache') },
      });
    const sql =
      "SELECT tasks.shape.label AS shape, count(*) AS pairs FROM results WHERE status = 'ok' GROUP BY 1 ORDER BY 1";
    const counts = [...countBy(ok(job.records), (r) => shape(r).label)].sort(([a], [b]) => (a < b ? -1 : 1));
    // Act
    const [csv, jsonl, table] = await Promise.all([
      run([sql, '--format', 'csv']),
      run([sql, '--format', 'jsonl']),
      run([sql]),
    ]);
    const bad = await run(['SELECT nope FROM results']).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    // Assess
    expect(csv.stdout).toBe(['shape,pairs', ...counts.map(([s, n]) => `${s},${n}`)].join('\n') + '\n');
    expect(
      jsonl.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(counts.map(([shape, pairs]) => ({ shape, pairs })));
    expect(table.stdout).toMatch(/^shape\s+pairs\n-+\s+-+\n/);
    expect(table.stdout).toContain(`(${counts.length} rows)`);
    expect(bad?.code).toBe(1);
    expect(bad?.stderr).toMatch(/fusebatch: Binder Error: .*"nope"/);
    expect(bad?.stderr).not.toMatch(/\n\s+at /);
  });
});

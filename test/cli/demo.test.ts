/**
 * `npm start` is `fusebatch demo`: the whole local flow in a child process, here on a few of
 * the evaluation pairs.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import { evalDir, evalPairs } from '../helpers/runtime.js';

const bin = path.resolve(import.meta.dirname, '../../bin/fusebatch.mjs');

describe('CLI: fusebatch demo', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-demo-'));
    const lines = (await readFile(path.join(evalDir, 'truth.jsonl'), 'utf8')).split('\n').filter(Boolean).slice(0, 8);
    await mkdir(path.join(dir, 'truth', 'pairs'), { recursive: true });
    await mkdir(path.join(dir, 'truth', 'masks'), { recursive: true });
    await mkdir(path.join(dir, 'truth', 'scenes'), { recursive: true });
    for (const line of lines) {
      const t = JSON.parse(line);
      await cp(path.join(evalDir, t.image), path.join(dir, 'truth', t.image));
      await cp(path.join(evalPairs, `${t.id}.txt`), path.join(dir, 'truth', 'pairs', `${t.id}.txt`));
      await cp(path.join(evalDir, t.mask), path.join(dir, 'truth', t.mask));
      await cp(path.join(evalDir, t.scene), path.join(dir, 'truth', t.scene));
    }
    await writeFile(path.join(dir, 'truth', 'truth.jsonl'), lines.join('\n') + '\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the flow and prints the summary, per-task metrics and where the results are', async () => {
    // Act
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        bin,
        'demo',
        '--pairs',
        path.join(dir, 'truth', 'pairs'),
        '--truth',
        path.join(dir, 'truth', 'truth.jsonl'),
        '--out',
        path.join(dir, 'out'),
        '--engine',
        'cpu',
        '--chunk-size',
        '3',
      ],
      { timeout: 120_000 },
    );
    // Assess
    expect(stdout).toMatch(/job demo-\d+: 8 pairs, 0 errors, [\d.]+ s, [\d.]+ pairs\/s/);
    for (const task of ['shape', 'colors', 'count', 'match', 'mask', 'objects', 'scene'])
      expect(stdout).toMatch(new RegExp(`^ {2}${task} +\\w+ +[\\d.]+ %`, 'm'));
    expect(stdout).toMatch(
      /single pairs through inbox\/: demo\/test-00000 ok, demo\/test-00001 ok, demo\/test-00002 ok/,
    );
    const resultsFile = stdout.match(/^results: (.+)$/m)![1];
    const records = (await readFile(resultsFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => OutputRecordSchema.parse(JSON.parse(l)));
    expect(records).toHaveLength(8);
    // The default mask format: masks and class maps in the records, no PNG objects to list.
    for (const r of records) expect(r.status === 'ok' && r.tasks.mask).toMatchObject({ mask: null, rle: {} });
    expect(stdout).toMatch(/^bucket .*\/parts\//m);
    expect(stdout).not.toContain('_masks/');
    const reportFile = stdout.match(/^report: (.+)$/m)![1];
    const html = await readFile(reportFile, 'utf8');
    expect(html).toContain('<title>fusebatch report: demo-');
    expect(html.match(/"id":"test-\d+"/g)).toHaveLength(8);
    expect(html).toContain('data-tile="wrong"'); // scored against the demo's truth
  });
});

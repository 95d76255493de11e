/**
 * The `fusebatch` command as a user runs it: a child process of bin/fusebatch.mjs.
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutputRecordSchema } from '../../lambdas/core/records.js';
import { parityPairs, referenceBundle } from '../helpers/runtime.js';

const bin = path.resolve(import.meta.dirname, '../../bin/fusebatch.mjs');
const run = promisify(execFile);

async function fusebatch(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('CLI: fusebatch', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-cli-'));
    // Pairs in nested folders, a caption without image, an image without caption, a corrupt image.
    const input = path.join(dir, 'pairs');
    await mkdir(path.join(input, 'nested/deeper'), { recursive: true });
    await cp(path.join(parityPairs, 'parity-00000.png'), path.join(input, 'top.png'));
    await cp(path.join(parityPairs, 'parity-00000.txt'), path.join(input, 'top.txt'));
    await cp(path.join(parityPairs, 'parity-00001.png'), path.join(input, 'nested/deeper/inner pair.png'));
    await writeFile(path.join(input, 'nested/deeper/inner pair.txt'), 'a small red star');
    await writeFile(path.join(input, 'nested/caption-only.txt'), 'a blue circle');
    await cp(path.join(parityPairs, 'parity-00002.png'), path.join(input, 'image-only.png'));
    await writeFile(path.join(input, 'corrupt.png'), 'not a png at all');
    await writeFile(path.join(input, 'corrupt.txt'), 'a green cross');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('infers a folder into one JSON line per pair and prints a summary', async () => {
    // Act
    const out = path.join(dir, 'results.jsonl');
    const masks = path.join(dir, 'masks');
    const result = await fusebatch(
      'infer',
      '--model',
      referenceBundle,
      '--input',
      path.join(dir, 'pairs'),
      '--out',
      out,
      '--masks',
      masks,
      '--mask-format',
      'both',
      '--engine',
      'wasm',
      '--threads',
      '1',
    );
    // Assess
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^5 pairs, 3 errors \(IMAGE_UNREADABLE 1, TEXT_MISSING 1, IMAGE_MISSING 1\), [\d.]+ s, [\d.]+ pairs\/s/m,
    );
    const records = (await readFile(out, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => OutputRecordSchema.parse(JSON.parse(l)));
    expect(records.map((r) => [r.id, r.status === 'ok' ? 'ok' : r.error.code])).toEqual([
      ['corrupt', 'IMAGE_UNREADABLE'],
      ['image-only', 'TEXT_MISSING'],
      ['nested/caption-only', 'IMAGE_MISSING'],
      ['nested/deeper/inner pair', 'ok'],
      ['top', 'ok'],
    ]);
    const inner = records[3];
    expect(inner.engine).toBe('wasm');
    const mask = inner.status === 'ok' ? inner.tasks.mask : null;
    expect(mask).toMatchObject({
      mask: `${masks}/nested/deeper/inner pair.mask.png`,
      rle: { counts: expect.any(String) },
    });
    await expect(readFile(`${masks}/nested/deeper/inner pair.mask.png`)).resolves.toBeInstanceOf(Buffer);
  });

  it('exits non-zero with a clear message when the input folder does not exist', async () => {
    const result = await fusebatch(
      'infer',
      '--model',
      referenceBundle,
      '--input',
      path.join(dir, 'nope'),
      '--out',
      path.join(dir, 'x.jsonl'),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nope');
  });

  it('refuses serve --faults that are not fault options, naming the field, before starting anything', async () => {
    const result = await fusebatch('serve', '--port', '0', '--faults', '{"slowDown":{"rate":2},"resets":{}}');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/--faults <json>.*is invalid\. .*slowDown\.rate: Too big/);
    expect(result.stderr).toMatch(/resets/);
  });

  it('validates a bundle and prints its inputs and tasks', async () => {
    const result = await fusebatch('validate-model', referenceBundle);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^shapes-reference 1\.0\.0 {2}sha256 [0-9a-f]{64}$/m);
    expect(result.stdout).toContain("  mask         segmentation   'mask_logits'");
    expect(result.stdout.trim().endsWith('ok')).toBe(true);
  });

  it('lists every problem of a broken bundle, each with its field', async () => {
    // Prepare: a copy of the reference bundle whose manifest disagrees with its graph.
    const broken = path.join(dir, 'broken');
    await cp(referenceBundle, broken, {
      recursive: true,
      filter: (src) => !src.includes('fixtures') && !src.includes('.data'),
    });
    const manifest = JSON.parse(await readFile(path.join(broken, 'model.json'), 'utf8'));
    manifest.tasks[0].output = 'shape_probs';
    manifest.tasks[1].labels.pop();
    await writeFile(path.join(broken, 'model.json'), JSON.stringify(manifest));
    // Act
    const result = await fusebatch('validate-model', broken);
    // Assess
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "model.json tasks.0.output: 'shape_probs' (task 'shape') is not an output of the model",
    );
    expect(result.stderr).toContain(
      "model.json tasks.1.output: output 'colors_logits' has shape [batch, 8]; a multilabel task with 7 labels needs [batch, 7]",
    );
  });
});

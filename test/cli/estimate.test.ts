/**
 * `fusebatch estimate` and `submit --dry-run` as a user runs them: child processes of
 * bin/fusebatch.mjs in the repository (its cdk.json is the deploy configuration read).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCalibration } from '../../cli/estimate.js';
import { DEFAULT_PRICES, estimateJob } from '../../lambdas/core/estimate.js';
import { resolvePipelineConfig } from '../../lib/config.js';
import { parityPairs, referenceBundle } from '../helpers/runtime.js';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/fusebatch.mjs');
const run = promisify(execFile);

async function fusebatch(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { cwd: root, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('CLI: fusebatch estimate', () => {
  let dir: string;
  let folder: string;
  let manifest: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-estimate-'));
    // A folder of 3 pairs and a caption alone (an id with no image: a line, no image read).
    folder = path.join(dir, 'pairs');
    await mkdir(path.join(folder, 'nested'), { recursive: true });
    for (const [i, id] of ['a', 'b', 'nested/c'].entries()) {
      await cp(path.join(parityPairs, `parity-0000${i}.png`), path.join(folder, `${id}.png`));
      await cp(path.join(parityPairs, `parity-0000${i}.txt`), path.join(folder, `${id}.txt`));
    }
    await writeFile(path.join(folder, 'caption-only.txt'), 'a blue circle');
    // A manifest: 5 lines (a blank one is none), one not JSON, one without an image.
    manifest = path.join(dir, 'job.jsonl');
    await writeFile(
      manifest,
      [
        JSON.stringify({ id: 'a', image: 'pairs/a.png', text: 'a red circle' }),
        JSON.stringify({ id: 'b', image: 'pairs/b.png', text: 'a green square' }),
        '',
        '{not json',
        JSON.stringify({ id: 'c', text: 'no image' }),
        JSON.stringify({ id: 'd', image: 'pairs/nested/c.png', text: 'a star' }),
      ].join('\n') + '\n',
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('counts a folder and prices it with the core model, the calibration and cdk.json’s settings', async () => {
    // Act
    const result = await fusebatch('estimate', folder, '--json');
    // Assess
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    // The mask format is the deploy setting's (masks, rle by default).
    const config = resolvePipelineConfig({}, {});
    expect(json).toMatchObject({ lines: 4, chunks: 1, route: 'queue', maskFormat: config.masks });
    expect(Object.keys(json.routes)).toEqual(['queue', 'batch', 'local']);
    // The same numbers as the core gives for 4 lines, 3 images, 3 uploads.
    const { calibration } = await loadCalibration(referenceBundle);
    const expected = estimateJob({
      job: { lines: 4, images: 3, uploads: 3 },
      settings: config,
      calibration,
      prices: DEFAULT_PRICES,
      maskFormat: config.masks,
      localWorkers: 2,
    });
    expect(json.routes).toEqual(JSON.parse(JSON.stringify(expected.routes)));
  });

  it('counts a manifest’s non-blank lines, and the images they name', async () => {
    const json = JSON.parse((await fusebatch('estimate', manifest, '--json', '--route', 'queue')).stdout);
    expect(json.lines).toBe(5);
    expect(Object.keys(json.routes)).toEqual(['queue']);
    expect(json.routes.queue.s3.pairs.get).toBe(3);
    expect(json.routes.queue.s3.upload.put).toBe(3 + 1); // the images, then the manifest
  });

  it('counts a .csv manifest’s records as lines, its images as keys already in the bucket (none uploaded)', async () => {
    const csv = path.join(dir, 'bucket-job.csv');
    await writeFile(
      csv,
      'id,image,text\na,uploads/a.png,a red circle\nb,,no image\n\nc,uploads/c.png,"a star, small"\n',
    );
    const json = JSON.parse((await fusebatch('estimate', csv, '--json', '--route', 'queue')).stdout);
    expect(json.lines).toBe(3);
    expect(json.routes.queue.s3.pairs.get).toBe(2);
    expect(json.routes.queue.s3.upload.put).toBe(1); // the manifest alone
  });

  it('follows the deploy settings: a lower gpu.threshold sends the job to AWS Batch, --memory sizes the workers', async () => {
    const json = JSON.parse(
      (await fusebatch('estimate', manifest, '--json', '-c', 'fusebatch:gpu.threshold=4', '--memory', '1769')).stdout,
    );
    expect(json.route).toBe('batch');
    expect(json.routeReason).toBe('5 lines > gpu.threshold 4');
    expect(json.settings.workerMemoryMiB).toBe(1769);
    expect(json.routes.batch.gpu.children).toBe(1);
  });

  it('prices the Lambda route at the deployed engine’s calibrated rate: cpu by default, wasm when lambdaEngine says so', async () => {
    // Act
    const cpu = JSON.parse((await fusebatch('estimate', folder, '--json', '--route', 'queue')).stdout);
    const wasm = JSON.parse(
      (await fusebatch('estimate', folder, '--json', '--route', 'queue', '-c', 'fusebatch:lambdaEngine=wasm')).stdout,
    );
    // Assess: each at its own engine's rate in the bundle's calibration, and no note about it.
    const { calibration } = await loadCalibration(referenceBundle);
    expect(calibration.lambdaCpu).toBeDefined();
    for (const [json, engine] of [
      [cpu, 'cpu'],
      [wasm, 'wasm'],
    ] as const) {
      const settings = resolvePipelineConfig({}, { 'fusebatch:lambdaEngine': engine });
      const expected = estimateJob({
        job: { lines: 4, images: 3, uploads: 3 },
        settings,
        calibration,
        prices: DEFAULT_PRICES,
        maskFormat: settings.masks,
        localWorkers: 2,
      });
      expect(json.routes.queue).toEqual(JSON.parse(JSON.stringify(expected.routes.queue)));
      expect(json.routes.queue.basis).toContain(`(${engine}, 2 thread(s))`);
      expect(json.notes.join('\n')).not.toMatch(/engine is cpu/);
    }
    expect(cpu.routes.queue.lambda.gbSeconds).not.toBe(wasm.routes.queue.lambda.gbSeconds);
  });

  it('puts a PNG a dense output a pair with --mask-format png, none for the reference model’s with rle', async () => {
    const png = JSON.parse((await fusebatch('estimate', folder, '--json', '--mask-format', 'png')).stdout);
    const rle = JSON.parse((await fusebatch('estimate', folder, '--json', '--mask-format', 'rle')).stdout);
    // A mask and a class map a pair: both PNG objects, or both inline.
    expect(png.routes.queue.s3.pairs).toEqual({ get: 3, put: 6, list: 0 });
    expect(rle.routes.queue.s3.pairs).toEqual({ get: 3, put: 0, list: 0 });
    expect(rle.routes.queue.usd).toBeLessThan(png.routes.queue.usd);
  });

  it('with --measure, prices the local route at the rate of the job’s first pairs run through a local pipeline now', async () => {
    // Act: the folder's 4 pairs (one a caption alone), run before the estimate is made
    const result = await fusebatch('estimate', folder, '--json', '--route', 'local', '--measure', '10');
    // Assess
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.measured).toMatchObject({ workers: 2, pairs: 4, chunkSize: 1 });
    expect(json.measured.pairsPerSecond).toBeGreaterThan(0);
    expect(json.notes).toContain(
      `the local route is priced at the rate measured now on the job's first 4 pairs (${json.measured.pairsPerSecond.toFixed(1)} pairs/s with 2 worker(s), ${json.measured.jobSeconds.toFixed(1)} s a job), not the calibration's`,
    );
    // The core's figure for this job with the measured rates in place of the calibration's.
    const { calibration } = await loadCalibration(referenceBundle);
    const config = resolvePipelineConfig({}, {});
    const expected = estimateJob({
      job: { lines: 4, images: 3, uploads: 3 },
      settings: config,
      calibration: {
        ...calibration,
        local: {
          ...calibration.local,
          uploadPairsPerSecond: json.measured.uploadPairsPerSecond,
          pipeline: {
            workers: 2,
            chunkSize: 1,
            pairsPerSecond: json.measured.pairsPerSecond,
            jobSeconds: json.measured.jobSeconds,
          },
        },
      },
      prices: DEFAULT_PRICES,
      maskFormat: config.masks,
      localWorkers: 2,
    });
    expect(json.routes.local.seconds).toBeCloseTo(expected.routes.local.seconds, 9);
  });

  it('with --measure, samples a .jsonl manifest’s pairs (images beside it) and refuses a .csv (its images are in the bucket)', async () => {
    const fromManifest = JSON.parse((await fusebatch('estimate', manifest, '--json', '--measure', '2')).stdout);
    // The first two lines that parse: a and b, both with images.
    expect(fromManifest.measured).toMatchObject({ pairs: 2 });
    const csv = path.join(dir, 'measure.csv');
    await writeFile(csv, 'id,image,text\na,uploads/a.png,a red circle\n');
    const refused = await fusebatch('estimate', csv, '--measure');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(
      `fusebatch: --measure needs a folder of pairs or a .jsonl manifest with local images, not ${csv}`,
    );
  });

  it('notes a calibration measured for another model.onnx, and only then', async () => {
    // Prepare: a copy of the bundle, and a second whose calibration names another graph.
    const same = path.join(dir, 'bundle-same');
    const other = path.join(dir, 'bundle-other');
    await cp(referenceBundle, same, { recursive: true });
    await cp(referenceBundle, other, { recursive: true });
    const { calibration } = await loadCalibration(referenceBundle);
    await writeFile(
      path.join(other, 'calibration.json'),
      JSON.stringify({ ...calibration, model: { ...calibration.model, sha256: '0'.repeat(64) } }),
    );
    // Act
    const notes = async (bundle: string) =>
      JSON.parse((await fusebatch('estimate', folder, '--json', '--model', bundle)).stdout).notes as string[];
    // Assess
    expect((await notes(same)).join('\n')).not.toMatch(/measured for another/);
    expect(await notes(other)).toContainEqual(
      expect.stringMatching(/^the calibration was measured for another model\.onnx .*: rerun npm run bench:calibrate$/),
    );
  });

  it('prints the estimate for people: the route taken, each route’s duration and cost', async () => {
    const result = await fusebatch('estimate', folder);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^.*pairs: 4 pairs in 1 chunks of 100; masks rle$/m);
    expect(result.stdout).toMatch(/^route: queue \(4 lines ≤ gpu\.threshold 5000\)$/m);
    expect(result.stdout).toMatch(/^queue \(the route the stack takes\): [\d.]+ s, \$[\d.]+$/m);
    expect(result.stdout).toMatch(/^batch: \d+ min \d+ s, \$[\d.]+$/m);
    expect(result.stdout).toMatch(/^local: [\d.]+ s, no bill \(this machine\)$/m);
  });

  it.each([
    [
      ['--route', 'nope'],
      /^error: option '--route <route>' argument 'nope' is invalid\. Allowed choices are auto, queue, batch, local\.$/,
    ],
    [
      ['--memory', '64'],
      /^error: option '--memory <MB>' argument '64' is invalid\. expected whole MB from 128 to 10240$/,
    ],
    [
      ['--mask-format', 'jpeg'],
      /^error: option '--mask-format <format>' argument 'jpeg' is invalid\. Allowed choices are rle, png, both\.$/,
    ],
    [['-c', 'fusebatch:chunkSize=0'], /^fusebatch: invalid deploy settings: chunkSize: .*$/],
    [['-c', 'chunkSize'], /^fusebatch: -c chunkSize: expected key=value, e\.g\. fusebatch:chunkSize=50$/],
  ])('refuses %j with one line', async (flags, message) => {
    const result = await fusebatch('estimate', folder, ...flags);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr.trimEnd()).toMatch(message);
  });

  it('says where it looked for the model bundle, in one line', async () => {
    const result = await fusebatch('estimate', folder, '-c', 'fusebatch:modelDir=models/none');
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(
      /^fusebatch: no model bundle at .*models\/none \(the deploy setting modelDir, from .*; or give --model DIR\): model\.json: cannot read/,
    );
  });

  it('refuses a prices file with an unknown or negative price, naming it, in one line', async () => {
    const prices = path.join(dir, 'prices.json');
    await writeFile(prices, JSON.stringify({ s3PutPerThousand: 0.005, sqsPerMillionRequests: -1 }));
    const result = await fusebatch('estimate', folder, '--prices', prices);
    expect(result.code).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^fusebatch: prices .*prices\.json: .*sqsPerMillionRequests.*s3PutPerThousand/);
  });

  it('prices with a prices file over the defaults', async () => {
    const prices = path.join(dir, 'dear-s3.json');
    await writeFile(prices, JSON.stringify({ s3PutListPerThousand: 0.05 }));
    const cheap = JSON.parse((await fusebatch('estimate', folder, '--json')).stdout);
    const dear = JSON.parse((await fusebatch('estimate', folder, '--json', '--prices', prices)).stdout);
    expect(dear.routes.queue.s3.outputPutsUsd).toBeCloseTo(10 * cheap.routes.queue.s3.outputPutsUsd, 12);
    expect(dear.routes.queue.lambda).toEqual(cheap.routes.queue.lambda);
    expect(dear.prices).toMatch(/dear-s3\.json over AWS list prices/);
  });
});

describe('CLI: fusebatch submit --dry-run', () => {
  let dir: string;
  let server: Server;
  let requests = 0;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-dry-run-'));
    await cp(path.join(parityPairs, 'parity-00000.png'), path.join(dir, 'a.png'));
    await cp(path.join(parityPairs, 'parity-00000.txt'), path.join(dir, 'a.txt'));
    // An endpoint that counts every request it gets (and answers none usefully).
    server = createServer((_req, res) => {
      requests++;
      res.statusCode = 500;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the estimate and sends nothing to the endpoint', async () => {
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const result = await fusebatch('submit', dir, '--dry-run', '--endpoint', endpoint);
    expect(result.code).toBe(0);
    expect(requests).toBe(0);
    const estimate = await fusebatch('estimate', dir);
    expect(result.stdout).toBe(estimate.stdout);
    expect(result.stdout).toMatch(/1 pairs in 1 chunks/);
  });
});

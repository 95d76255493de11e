import { describe, expect, it } from 'vitest';
import { batchShards } from '../../lambdas/core/batch-shards.js';
import {
  ASSUMED,
  type Calibration,
  CalibrationSchema,
  DEFAULT_PRICES,
  type EstimateInput,
  type EstimateSettings,
  estimateJob,
  PricesOverrideSchema,
  waveSeconds,
  withPriceOverride,
} from '../../lambdas/core/estimate.js';

/** Round figures, so that the expected values below can be worked by hand. */
const calibration: Calibration = CalibrationSchema.parse({
  schemaVersion: 1,
  model: { name: 'm', version: '1', sha256: '0'.repeat(64) },
  measuredAt: '2026-11-30T00:00:00.000Z',
  machine: { cpu: 'test', cores: 2, memoryGiB: 8, node: 'v20', platform: 'linux x64' },
  outputs: { densePerPair: 2, masksPerPair: 1 },
  wasm: [
    { threads: 1, pairsPerSecond: 30 },
    { threads: 2, pairsPerSecond: 50 },
  ],
  lambdaCpu: [
    { threads: 1, pairsPerSecond: 80 },
    { threads: 2, pairsPerSecond: 125 },
  ],
  cpu: [
    { workers: 1, pairsPerSecond: 40 },
    { workers: 2, pairsPerSecond: 60 },
  ],
  protocol: { s3PerChunk: { get: 3, put: 4, list: 2 }, s3PerJob: { get: 5, put: 10, list: 1 }, sqsPerChunk: 2.1 },
  ingestLinesPerSecond: 10_000,
  local: { requestMs: 2, uploadPairsPerSecond: 500, pipeline: { workers: 2, chunkSize: 50, pairsPerSecond: 40 } },
});

const settings: EstimateSettings = {
  chunkSize: 100,
  architecture: 'x86_64',
  lambdaEngine: 'wasm',
  ingest: { memoryMiB: 1024 },
  worker: { memoryMiB: 3538, threads: 2, reservedConcurrency: 10 },
  gpu: {
    enabled: true,
    threshold: 5000,
    secondsPerPair: 0.05,
    timeoutSeconds: 7200,
    instanceTypes: ['g4dn.xlarge'],
    maxVcpus: 32,
    containerVcpus: 4,
  },
};

const input = (lines: number, over: Partial<EstimateInput> = {}): EstimateInput => ({
  job: { lines, images: lines, uploads: lines },
  settings,
  calibration,
  prices: DEFAULT_PRICES,
  maskFormat: 'png',
  localWorkers: 2,
  ...over,
});

describe('Function: estimateJob', () => {
  it('picks the route as ingest does: batch above gpu.threshold, the queue at it or without the GPU route', () => {
    expect(estimateJob(input(5000)).route).toBe('queue');
    expect(estimateJob(input(5001)).route).toBe('batch');
    const noGpu = { ...settings, gpu: { ...settings.gpu, enabled: false } };
    const estimate = estimateJob(input(5001, { settings: noGpu }));
    expect(estimate.route).toBe('queue');
    expect(estimate.routes.batch.deployed).toBe(false);
  });

  it('doubles the pairs’ S3 requests and their cost when the pairs double, and adds the protocol’s per chunk', () => {
    const one = estimateJob(input(10_000)).routes.queue.s3;
    const two = estimateJob(input(20_000)).routes.queue.s3;
    expect(two.pairs).toEqual({ get: 2 * one.pairs.get, put: 2 * one.pairs.put, list: 0 });
    expect(two.outputPutsUsd).toBeCloseTo(2 * one.outputPutsUsd, 12);
    // 100 more chunks: 3 GET, 4 PUT and 2 LIST each.
    expect(two.protocol.get - one.protocol.get).toBe(300);
    expect(two.protocol.put - one.protocol.put).toBe(400);
    expect(two.protocol.list - one.protocol.list).toBe(200);
    // The job's own requests do not grow.
    expect(two.ingest).toEqual(one.ingest);
  });

  it('prices S3 from the counts: PUT and LIST at $0.005 a thousand, GET and HEAD at $0.0004', () => {
    const { s3 } = estimateJob(input(1000)).routes.queue;
    // upload: 1,000 images and the manifest, plus the name check's HEAD and LIST; job: 5/10/1;
    // 10 chunks: 30/40/20; pairs: 1,000 GET, 2,000 PUT.
    expect(s3.total).toEqual({ get: 1 + 5 + 30 + 1000, put: 1001 + 10 + 40 + 2000, list: 1 + 1 + 20 });
    expect(s3.usd).toBeCloseTo((3051 + 22) * 0.000005 + 1036 * 0.0000004, 10);
    expect(s3.outputPutsUsd).toBeCloseTo(2000 * 0.000005, 10);
  });

  it('leaves out the masks’ and class maps’ PUTs when they are kept inline (rle), and keeps them with both', () => {
    const png = estimateJob(input(1000)).routes.queue.s3.pairs.put;
    const rle = estimateJob(input(1000, { maskFormat: 'rle' })).routes.queue.s3.pairs.put;
    const both = estimateJob(input(1000, { maskFormat: 'both' })).routes.queue.s3.pairs.put;
    expect(png - rle).toBe(1000); // one mask a pair
    expect(rle).toBe(1000); // a value map is a PNG whatever the format
    expect(both).toBe(png);
  });

  it('bills Lambda for the pairs at the measured wasm rate, the chunks’ overhead, each worker’s init and ingest', () => {
    const { lambda, sqs } = estimateJob(input(1000)).routes.queue;
    const workerSeconds = 1000 / 50 + 10 * ASSUMED.lambdaChunkOverheadSeconds + 10 * ASSUMED.lambdaInitSeconds;
    const gbSeconds = (3538 / 1024) * workerSeconds + (1024 / 1024) * (1000 / 10_000);
    expect(lambda.gbSeconds).toBeCloseTo(gbSeconds, 6);
    expect(lambda.requests).toBe(11);
    expect(lambda.usd).toBeCloseTo(gbSeconds * 0.0000166667 + 11 * 0.2e-6, 10);
    expect(sqs.requests).toBeCloseTo(21, 9);
  });

  it('slows a worker below 1,769 MB in proportion to its share of a vCPU', () => {
    const half = { ...settings, worker: { ...settings.worker, memoryMiB: 884.5, threads: 1 } };
    const full = { ...settings, worker: { ...settings.worker, memoryMiB: 1769, threads: 1 } };
    const slow = estimateJob(input(1000, { settings: half })).routes.queue;
    const fast = estimateJob(input(1000, { settings: full })).routes.queue;
    // One chunk on each of 10 workers: 100 pairs at 15 pairs/s against 30.
    const wave = (rate: number) => 100 / rate + ASSUMED.lambdaChunkOverheadSeconds;
    expect(slow.seconds - fast.seconds).toBeCloseTo(wave(15) - wave(30), 9);
  });

  it('runs the queue route in waves of reservedConcurrency chunks', () => {
    // 25 chunks on 10 workers: 3 waves, the last of 5 chunks.
    const { seconds } = estimateJob(input(2500)).routes.queue;
    const chunk = 100 / 50 + ASSUMED.lambdaChunkOverheadSeconds;
    expect(seconds).toBeCloseTo(2500 / 10_000 + ASSUMED.lambdaInitSeconds + 3 * chunk, 9);
  });

  it('sizes the GPU route’s children as ingest does, each reading the status document once', () => {
    const lines = 2_000_000;
    const estimate = estimateJob(input(lines));
    const children = batchShards(20_000, { secondsPerChunk: 5, timeoutSeconds: 7200 });
    expect(estimate.routes.batch.gpu.children).toBe(children);
    expect(children).toBe(28);
    // A chunk's GET of the status document is the child's, once.
    expect(estimate.routes.batch.s3.protocol.get).toBe(20_000 * 2 + children);
    // 8 children at once (32 vCPUs / 4); 28 children of 715 chunks at 5 s, each after a start.
    const child = ASSUMED.batchChildStartSeconds + 715 * 5;
    expect(estimate.routes.batch.gpu.instanceHours).toBeCloseTo(
      (28 * child + 8 * ASSUMED.batchInstanceStartSeconds) / 3600,
      9,
    );
    expect(estimate.routes.batch.seconds).toBeCloseTo(
      lines / 10_000 + ASSUMED.batchInstanceStartSeconds + 4 * child,
      9,
    );
    expect(estimate.routes.batch.sqs.requests).toBe(0);
  });

  it('predicts the local route from the measured pipeline’s rate, each worker a share of it', () => {
    // 3 chunks on 2 workers at 20 pairs/s each (40 measured with 2): a wave of 2 full chunks,
    // then 1 chunk of 50 at the same rate.
    const { seconds, usd } = estimateJob(input(250)).routes.local;
    expect(seconds).toBeCloseTo(250 / 500 + 250 / 10_000 + 100 / 20 + 50 / 20, 9);
    expect(usd).toBe(0);
  });

  it('scales the local pipeline to other worker counts by the engine’s rates together, and says so', () => {
    const one = estimateJob(input(1000, { localWorkers: 1 }));
    // 10 chunks on 1 worker at 40 × 40 / 60 pairs/s (the engine: 40 alone, 60 with 2).
    expect(one.routes.local.seconds).toBeCloseTo(1000 / 500 + 1000 / 10_000 + 1000 / ((40 * 40) / 60), 9);
    expect(one.notes.join('\n')).toMatch(/measured with 2 workers; 1 are scaled/);
  });

  it('takes the best wasm rate at or below the function’s threads (more threads are never slower on Lambda)', () => {
    const contended = CalibrationSchema.parse({
      ...calibration,
      wasm: [
        { threads: 1, pairsPerSecond: 30 },
        { threads: 2, pairsPerSecond: 20 },
      ],
    });
    const { routes, notes } = estimateJob(input(1000, { calibration: contended }));
    expect(routes.queue.basis).toMatch(/at 30 pairs\/s each/);
    expect(notes.join('\n')).toMatch(/the 1-thread one \(30 pairs\/s\): 2 threads measured lower \(20\)/);
  });

  it('says when a rate is the nearest measured below what the settings ask for', () => {
    const big = { ...settings, worker: { ...settings.worker, memoryMiB: 10240, threads: 5 } };
    expect(estimateJob(input(100, { settings: big })).notes.join('\n')).toMatch(
      /the 2-thread one: 10240 MB gives 5 threads, not measured/,
    );
  });
});

describe('Function: waveSeconds', () => {
  it('counts a wave for each reservedConcurrency chunks, the last chunk partial', () => {
    const seconds = (n: number, running: number) => n + running / 100;
    expect(waveSeconds(0, 100, 10, seconds)).toBe(0);
    expect(waveSeconds(100, 100, 10, seconds)).toBeCloseTo(100.01, 9);
    expect(waveSeconds(1001, 100, 10, seconds)).toBeCloseTo(100.1 + 1.01, 9);
    expect(waveSeconds(1000, 100, 10, seconds)).toBeCloseTo(100.1, 9);
  });
});

describe('Prices', () => {
  it('takes an override over the defaults, instance types merged', () => {
    const over = PricesOverrideSchema.parse({ s3PutListPerThousand: 0.0054, instanceHour: { 'g6e.xlarge': 1.861 } });
    const prices = withPriceOverride(DEFAULT_PRICES, over);
    expect(prices.s3PutListPerThousand).toBe(0.0054);
    expect(prices.instanceHour['g4dn.xlarge']).toBe(0.526);
    expect(prices.instanceHour['g6e.xlarge']).toBe(1.861);
    expect(prices.lambdaGbSecond.arm64).toBe(DEFAULT_PRICES.lambdaGbSecond.arm64);
  });

  it('refuses unknown names and negative prices', () => {
    expect(PricesOverrideSchema.safeParse({ s3PutPerThousand: 1 }).success).toBe(false);
    expect(PricesOverrideSchema.safeParse({ sqsPerMillionRequests: -1 }).success).toBe(false);
  });

  it('prices arm64 functions at the arm64 rate', () => {
    const arm = { ...settings, architecture: 'arm64' as const };
    const x86 = estimateJob(input(1000)).routes.queue.lambda;
    const a = estimateJob(input(1000, { settings: arm })).routes.queue.lambda;
    expect(a.gbSeconds).toBe(x86.gbSeconds);
    expect(a.usd / x86.usd).toBeCloseTo(0.8, 3);
  });
});

describe('Function: estimateJob, with the cpu engine deployed', () => {
  const onCpu = { ...settings, lambdaEngine: 'cpu' as const };

  it('bills Lambda for the pairs at the calibrated cpu rate, with no note', () => {
    const wasm = estimateJob(input(1000)).routes.queue;
    const cpu = estimateJob(input(1000, { settings: onCpu }));
    const { lambda, basis } = cpu.routes.queue;
    // As the wasm case above, at 125 pairs/s (2 threads) instead of 50.
    const workerSeconds = 1000 / 125 + 10 * ASSUMED.lambdaChunkOverheadSeconds + 10 * ASSUMED.lambdaInitSeconds;
    const gbSeconds = (3538 / 1024) * workerSeconds + (1024 / 1024) * (1000 / 10_000);
    expect(lambda.gbSeconds).toBeCloseTo(gbSeconds, 6);
    expect(lambda.gbSeconds).toBeLessThan(wasm.lambda.gbSeconds);
    expect(basis).toMatch(/at 125 pairs\/s each \(cpu, 2 thread\(s\)\)/);
    expect(wasm.basis).toMatch(/at 50 pairs\/s each \(wasm, 2 thread\(s\)\)/);
    expect(cpu.notes.join('\n')).not.toMatch(/engine is cpu|wasm/);
    // The other routes do not run on the Lambda engine.
    expect(cpu.routes.batch.usd).toBe(estimateJob(input(1000)).routes.batch.usd);
    expect(cpu.routes.local.seconds).toBe(estimateJob(input(1000)).routes.local.seconds);
  });

  it('takes the best cpu rate at or below the function’s threads, naming the engine when it says so', () => {
    const contended = CalibrationSchema.parse({
      ...calibration,
      lambdaCpu: [
        { threads: 1, pairsPerSecond: 80 },
        { threads: 2, pairsPerSecond: 70 },
      ],
    });
    const { routes, notes } = estimateJob(input(1000, { settings: onCpu, calibration: contended }));
    expect(routes.queue.basis).toMatch(/at 80 pairs\/s each \(cpu/);
    expect(notes.join('\n')).toMatch(
      /Lambda's cpu rate is the 1-thread one \(80 pairs\/s\): 2 threads measured lower \(70\)/,
    );
  });

  it('reads a calibration written before the cpu rate was measured, prices it at the wasm rate and says so', () => {
    const { lambdaCpu: _, ...older } = calibration;
    const parsed = CalibrationSchema.parse(older);
    const estimate = estimateJob(input(1000, { settings: onCpu, calibration: parsed }));
    expect(estimate.routes.queue.lambda).toEqual(estimateJob(input(1000)).routes.queue.lambda);
    expect(estimate.routes.queue.basis).toMatch(/\(wasm, 2 thread\(s\)\)/);
    expect(estimate.notes.join('\n')).toMatch(
      /the functions' engine is cpu, but this calibration has no cpu Lambda rate .*rerun npm run bench:calibrate/,
    );
    // A wasm deployment never needs it.
    expect(estimateJob(input(1000, { calibration: parsed })).notes.join('\n')).not.toContain('engine is cpu');
  });
});

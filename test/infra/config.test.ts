import { describe, expect, it } from 'vitest';
import { lambdaVcpus, PipelineConfigError, resolvePipelineConfig } from '../../lib/config.js';

describe('Pipeline configuration: props over CDK context over defaults, validated once', () => {
  it('fills documented defaults and derives timeouts and threads from them', () => {
    // Act
    const config = resolvePipelineConfig({}, {});
    // Assess
    expect(config.architecture).toBe('x86_64');
    expect(config.chunkSize).toBe(100);
    expect(config.worker.timeoutSeconds).toBe(60);
    expect(config.worker.threads).toBe(2);
    // Ingest's threads follow its vCPUs on cpu (the default); on wasm, single pairs run on one
    // thread (a second is a worker thread onnxruntime-web starts and waits for at init).
    expect(config.lambdaEngine).toBe('cpu');
    expect(config.ingestThreads).toBe(2);
    expect(resolvePipelineConfig({}, { 'fusebatch:lambdaEngine': 'wasm' }).ingestThreads).toBe(1);
    expect(config.visibilityTimeoutSeconds).toBe(6 * config.worker.timeoutSeconds);
    expect(config.gpu).toMatchObject({ enabled: true, threshold: 5000 });
    expect(config.ingest.timeoutSeconds).toBe(900);
    expect(config.worker).toMatchObject({ attempts: 3, maxReceiveCount: 5, reservedConcurrency: 10 });
    // 120 minutes a child, less max(60 s, 10 %); 0.05 s a pair × 100 pairs a chunk.
    expect(config.gpu).toMatchObject({ timeoutSeconds: 7200, deadlineSeconds: 6480, secondsPerChunk: 5 });
  });

  it('keeps masks inline as COCO RLE by default; png or both on request, nothing else', () => {
    expect(resolvePipelineConfig({}, {}).masks).toBe('rle');
    expect(resolvePipelineConfig({}, { 'fusebatch:masks': 'png' }).masks).toBe('png');
    expect(resolvePipelineConfig({ masks: 'both' }, { 'fusebatch:masks': 'png' }).masks).toBe('both');
    expect(() => resolvePipelineConfig({}, { 'fusebatch:masks': 'jpeg' })).toThrow(/masks: /);
  });

  it('gives the queue two receives beyond the worker’s attempts, and a Batch child a deadline of at least 60 s', () => {
    // Act
    const config = resolvePipelineConfig(
      { chunkSize: 30, worker: { attempts: 1 }, gpu: { timeoutMinutes: 2, secondsPerPair: 0.07 } },
      {},
    );
    // Assess
    expect(config.worker).toMatchObject({ attempts: 1, maxReceiveCount: 3 });
    expect(config.gpu).toMatchObject({ timeoutSeconds: 120, deadlineSeconds: 60, secondsPerChunk: 2.1 });
    expect(resolvePipelineConfig({ chunkSize: 100, gpu: { secondsPerPair: 0.07 } }, {}).gpu.secondsPerChunk).toBe(7);
  });

  it('refuses a reserved concurrency under 2 (the SQS event source’s maximum concurrency), and a 1-minute Batch timeout', () => {
    expect(() => resolvePipelineConfig({ worker: { reservedConcurrency: 1 } }, {})).toThrow(
      /worker\.reservedConcurrency: must be at least 2: it is also the SQS event source’s maximum concurrency/,
    );
    expect(() => resolvePipelineConfig({}, { 'fusebatch:gpu.timeoutMinutes': '1' })).toThrow(
      /gpu\.timeoutMinutes: must be at least 2: a child stops starting chunks/,
    );
  });

  it('names what replaced a setting that is gone', () => {
    // Act
    const attempt = () =>
      resolvePipelineConfig({}, { 'fusebatch:worker.maxReceiveCount': '4', 'fusebatch:gpu.maxShards': '8' });
    // Assess
    expect(attempt).toThrow(/worker\.maxReceiveCount: replaced by worker\.attempts/);
    expect(attempt).toThrow(
      /gpu\.maxShards: removed: an array job has as many children as keep each within half its timeout/,
    );
  });

  it('reads fusebatch: context keys, parsing JSON values given on the command line', () => {
    // Act
    const config = resolvePipelineConfig(
      {},
      {
        'fusebatch:chunkSize': '500',
        'fusebatch:worker.memoryMiB': '1769',
        'fusebatch:gpu.enabled': 'false',
        'fusebatch:gpu.instanceTypes': '["g6.xlarge"]',
        'other:key': 'ignored',
      },
    );
    // Assess
    expect(config.chunkSize).toBe(500);
    expect(config.worker.threads).toBe(1);
    expect(config.worker.timeoutSeconds).toBe(130);
    expect(config.gpu.enabled).toBe(false);
    expect(config.gpu.instanceTypes).toEqual(['g6.xlarge']);
  });

  it('lets props win over context', () => {
    // Act
    const config = resolvePipelineConfig(
      { chunkSize: 20, worker: { reservedConcurrency: 3 } },
      { 'fusebatch:chunkSize': 50 },
    );
    // Assess
    expect(config.chunkSize).toBe(20);
    expect(config.worker.reservedConcurrency).toBe(3);
    expect(config.worker.memoryMiB).toBe(3538);
  });

  it('reports every problem together, each with its path', () => {
    // Act
    const attempt = () =>
      resolvePipelineConfig(
        { architecture: 'mips' as 'arm64', chunkSize: 0, gpu: { instanceTypes: ['not an instance'] } },
        { 'fusebatch:worker.memoryMiB': 64 },
      );
    // Assess
    expect(attempt).toThrow(PipelineConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as PipelineConfigError).problems.join('\n');
      expect(problems).toMatch(/^architecture: /m);
      expect(problems).toMatch(/^chunkSize: /m);
      expect(problems).toMatch(/^gpu\.instanceTypes\.0: /m);
      expect(problems).toMatch(/^worker\.memoryMiB: /m);
    }
  });

  it('refuses a worker timeout too short for the chunk size', () => {
    // Act
    const attempt = () => resolvePipelineConfig({ chunkSize: 2000, worker: { timeoutSeconds: 60 } }, {});
    // Assess
    expect(attempt).toThrow(/worker\.timeoutSeconds: 60 s is too short for chunks of 2000 pairs \(needs 430 s/);
  });

  it('gives Lambda’s vCPU count for a memory size', () => {
    expect([128, 1769, 3538, 5307, 10240].map(lambdaVcpus)).toEqual([1, 1, 2, 3, 5]);
  });
});

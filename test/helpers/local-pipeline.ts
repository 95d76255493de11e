import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { type LocalPipeline, type LocalPipelineOptions, startLocalPipeline } from '../../local/local-pipeline.js';
import { referenceBundle } from './runtime.js';

/**
 * The local pipeline as the end-to-end tests run it: a fresh bucket folder under `dir`, the
 * reference model on the cpu engine, two workers, quiet logs; each test overrides what it tries.
 */
export async function startTestPipeline(dir: string, over: Partial<LocalPipelineOptions> = {}): Promise<LocalPipeline> {
  return startLocalPipeline({
    port: 0,
    dataDir: await mkdtemp(path.join(dir, 's3-')),
    workers: 2,
    modelDir: referenceBundle,
    engine: 'cpu',
    threads: 1,
    chunkSize: 4,
    batchThreshold: 1000,
    visibilityTimeoutMs: 300,
    maxReceiveCount: 3,
    logLevel: 'SILENT',
    ...over,
  });
}

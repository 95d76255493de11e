/**
 * The deployed entry points' environments: the ingest function's lease and Batch sizing
 * settings, and the Batch child's deadline, as the CDK construct sets them.
 */
import { describe, expect, it } from 'vitest';
import { ENV_NAMES } from '../../lambdas/core/env-names.js';
import {
  BatchWorkerEnvSchema,
  EnvironmentError,
  IngestEnvSchema,
  parseEnv,
  WorkerEnvSchema,
} from '../../lambdas/entry/env.js';

const ingestBase = {
  FUSEBATCH_BUCKET: 'b',
  FUSEBATCH_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/q',
  FUSEBATCH_CHUNK_SIZE: '100',
};

describe('Entry point environments', () => {
  it('parse every name of core/env-names.ts somewhere, each name a distinct FUSEBATCH_ variable', () => {
    const names = Object.values(ENV_NAMES);
    const parsed = new Set(
      [IngestEnvSchema, WorkerEnvSchema, BatchWorkerEnvSchema].flatMap((schema) => Object.keys(schema.shape)),
    );
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) {
      expect(name).toMatch(/^FUSEBATCH_[A-Z0-9_]+$/);
      expect(parsed.has(name), name).toBe(true);
    }
    // And the other way: every FUSEBATCH_ variable a schema parses has its name there.
    expect([...parsed].filter((name) => name.startsWith('FUSEBATCH_') && !names.includes(name as never))).toEqual([]);
  });

  it('ingest: a 900 s lease by default, and no Batch sizing without the GPU route', () => {
    // Act
    const env = parseEnv('ingest', IngestEnvSchema, ingestBase);
    // Assess
    expect(env.FUSEBATCH_INGEST_LEASE_SECONDS).toBe(900);
    expect(env.FUSEBATCH_BATCH_SECONDS_PER_CHUNK).toBeUndefined();
  });

  it('reads the mask format (COCO RLE inline by default) and refuses one it does not know', () => {
    expect(parseEnv('ingest', IngestEnvSchema, ingestBase).FUSEBATCH_MASKS).toBe('rle');
    expect(parseEnv('ingest', IngestEnvSchema, { ...ingestBase, FUSEBATCH_MASKS: 'both' }).FUSEBATCH_MASKS).toBe(
      'both',
    );
    const batch = { FUSEBATCH_BUCKET: 'b', FUSEBATCH_JOB: 'j', FUSEBATCH_MASKS: 'png' };
    expect(parseEnv('batch-worker', BatchWorkerEnvSchema, batch).FUSEBATCH_MASKS).toBe('png');
    expect(() => parseEnv('ingest', IngestEnvSchema, { ...ingestBase, FUSEBATCH_MASKS: 'gif' })).toThrow(
      /FUSEBATCH_MASKS/,
    );
  });

  it('ingest: with the GPU route, reads the sizing estimates and names each one missing', () => {
    // Act
    const env = parseEnv('ingest', IngestEnvSchema, {
      ...ingestBase,
      FUSEBATCH_INGEST_LEASE_SECONDS: '600',
      FUSEBATCH_BATCH_THRESHOLD: '5000',
      FUSEBATCH_BATCH_JOB_QUEUE: 'arn:queue',
      FUSEBATCH_BATCH_JOB_DEFINITION: 'arn:definition',
      FUSEBATCH_BATCH_SECONDS_PER_CHUNK: '2.5',
      FUSEBATCH_BATCH_TIMEOUT_SECONDS: '7200',
    });
    const incomplete = () =>
      parseEnv('ingest', IngestEnvSchema, {
        ...ingestBase,
        FUSEBATCH_BATCH_THRESHOLD: '5000',
        FUSEBATCH_BATCH_JOB_QUEUE: 'arn:queue',
        FUSEBATCH_BATCH_JOB_DEFINITION: 'arn:definition',
      });
    // Assess
    expect(env).toMatchObject({
      FUSEBATCH_INGEST_LEASE_SECONDS: 600,
      FUSEBATCH_BATCH_SECONDS_PER_CHUNK: 2.5,
      FUSEBATCH_BATCH_TIMEOUT_SECONDS: 7200,
    });
    expect(incomplete).toThrow(EnvironmentError);
    expect(incomplete).toThrow(
      /FUSEBATCH_BATCH_SECONDS_PER_CHUNK: required with FUSEBATCH_BATCH_THRESHOLD[\s\S]*FUSEBATCH_BATCH_TIMEOUT_SECONDS: required/,
    );
  });

  it('Batch child: the deadline is optional, and a positive whole number of seconds when set', () => {
    const base = { FUSEBATCH_BUCKET: 'b', FUSEBATCH_JOB: 'j' };
    expect(parseEnv('batch-worker', BatchWorkerEnvSchema, base).FUSEBATCH_DEADLINE_SECONDS).toBeUndefined();
    expect(
      parseEnv('batch-worker', BatchWorkerEnvSchema, { ...base, FUSEBATCH_DEADLINE_SECONDS: '6480' })
        .FUSEBATCH_DEADLINE_SECONDS,
    ).toBe(6480);
    expect(() => parseEnv('batch-worker', BatchWorkerEnvSchema, { ...base, FUSEBATCH_DEADLINE_SECONDS: '0' })).toThrow(
      /FUSEBATCH_DEADLINE_SECONDS/,
    );
  });
});

/**
 * The ingest handler (S3 object-created events on inbox/ and jobs/): pairs are run in place
 * once both halves exist; manifests are validated, chunked and routed. Anything else,
 * results/ above all, is ignored, so the pipeline's own writes never trigger it.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { type BucketPipelineDeps, handlePairObject, type PairOutcome } from '../core/bucket-pipeline.js';
import { type IngestDeps, ingestJob, type JobIngestOutcome, redriveJob } from '../core/job-ingest.js';
import { classifyKey, decodeEventKey } from '../core/keys.js';
import { type MetricsPort, S3EventSchema } from './events.js';

export type IngestHandlerDeps = BucketPipelineDeps &
  IngestDeps & {
    readonly logger: Pick<Logger, 'info' | 'debug' | 'warn'>;
    /** Powertools Metrics in Lambda; absent locally. */
    readonly metrics?: MetricsPort;
  };

export type IngestOutcome = PairOutcome | JobIngestOutcome;

/**
 * Anything thrown fails the invocation: Lambda retries it (twice, for an asynchronous S3 event)
 * and then sends it to the on-failure destination, so no event is lost to a passing fault.
 */
export function createIngestHandler(deps: IngestHandlerDeps) {
  return async (event: unknown): Promise<IngestOutcome[]> => {
    const { Records } = S3EventSchema.parse(event);
    const outcomes: IngestOutcome[] = [];
    for (const record of Records) {
      if (!record.eventName.startsWith('ObjectCreated:')) continue;
      const kind = classifyKey(decodeEventKey(record.s3.object.key));
      let outcome: IngestOutcome;
      if (kind.kind === 'pair-image' || kind.kind === 'pair-text') outcome = await handlePairObject(kind, deps);
      else if (kind.kind === 'job-manifest') outcome = await ingestJob(kind, deps);
      else if (kind.kind === 'job-redrive') outcome = await redriveJob(kind, deps);
      else if (kind.kind === 'job-refused') outcome = { outcome: 'job-refused', key: kind.key, reason: kind.reason };
      else outcome = { outcome: 'ignored', key: kind.key, reason: kind.reason };
      // A refused manifest is a user's job that will not run: a warning, never a debug line.
      const level = outcome.outcome === 'ignored' ? 'debug' : outcome.outcome === 'job-refused' ? 'warn' : 'info';
      deps.logger[level]('ingest', { ...outcome });
      if (outcome.outcome === 'job-refused') deps.metrics?.addMetric('JobsRefused', 'Count', 1);
      if (outcome.outcome === 'processed') deps.metrics?.addMetric('PairsProcessed', 'Count', 1);
      if (outcome.outcome === 'job-routed') deps.metrics?.addMetric('JobsRouted', 'Count', 1);
      outcomes.push(outcome);
    }
    return outcomes;
  };
}

/**
 * How many children an AWS Batch array job gets: as few as keep each child's share of the
 * job's chunks within half its timeout. Pure, so that it is tested (and read) without the SDK.
 */

/** AWS Batch's largest array job. */
export const MAX_ARRAY_SIZE = 10_000;

/**
 * The share of a child's timeout its estimated work may fill: the rest absorbs a slower GPU
 * than estimated, model load and S3 round trips.
 */
export const TIMEOUT_SHARE = 0.5;

export interface ShardSizing {
  /** Estimated seconds a chunk takes on one child (gpu.secondsPerPair × chunkSize). */
  readonly secondsPerChunk: number;
  /** The child's timeout (the job definition's attempt duration). */
  readonly timeoutSeconds: number;
}

/**
 * Children for a job of `chunks` chunks: ceil(chunks × secondsPerChunk / (timeout × 0.5)),
 * at least 1, at most one a chunk and at most 10,000. One child means a plain job.
 */
export function batchShards(chunks: number, sizing: ShardSizing): number {
  if (!(sizing.secondsPerChunk > 0) || !(sizing.timeoutSeconds > 0)) {
    throw new RangeError(`shard sizing needs positive estimates, got ${JSON.stringify(sizing)}`);
  }
  const work = chunks * sizing.secondsPerChunk;
  const wanted = Math.ceil(work / (sizing.timeoutSeconds * TIMEOUT_SHARE));
  return Math.max(1, Math.min(wanted, chunks, MAX_ARRAY_SIZE));
}

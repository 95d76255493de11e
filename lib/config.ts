/**
 * The pipeline's deploy-time configuration: construct props merged over CDK context
 * (`cdk deploy -c fusebatch:chunkSize=50`, or `context` in cdk.json), validated by one schema
 * at synth with every problem reported together. Defaults are documented here, once.
 */
import * as z from 'zod';
import { formatIssues } from '../lambdas/core/manifest.js';
import { DEFAULT_MASK_FORMAT, MASK_FORMATS } from '../lambdas/core/mask-format.js';

/** Whole vCPUs of CPU time a function gets: Lambda gives one per 1,769 MB of memory (5.8 at 10,240 MB). */
export const lambdaVcpus = (memoryMiB: number) => Math.min(6, Math.max(1, Math.floor(memoryMiB / 1769)));

/** A generous per-pair budget on one WebAssembly thread, images and masks included (measured ~10 ms). */
const SECONDS_PER_PAIR_BUDGET = 0.2;
/** Init (WebAssembly compile, session) and S3 round trips on top of the chunk's pairs. */
const CHUNK_OVERHEAD_SECONDS = 30;

const memory = z.number().int().min(128).max(10240);

/** Receives SQS allows beyond the worker's own attempts before its redrive moves a chunk (crashes, timeouts). */
export const REDRIVE_SPARE_RECEIVES = 2;

/** Seconds a Batch child keeps in hand before its timeout: it starts no chunk past the deadline. */
export const batchDeadlineMarginSeconds = (timeoutSeconds: number) => Math.max(60, Math.ceil(timeoutSeconds * 0.1));

/** A setting that was replaced: naming it is an error that says what to set instead. */
const replaced = (message: string) => z.never({ error: message }).optional();

export const PipelineConfigSchema = z
  .object({
    /** The model bundle folder shipped with the functions and the container. */
    modelDir: z.string().min(1).default('models/reference'),
    /**
     * Lambda architecture. Default x86_64: the sharp binaries that `npm ci` installs on an x64
     * machine are the ones packaged, so synth needs nothing more; arm64 (about 20 % cheaper per
     * GB-second) needs the linux-arm64 sharp packages installed beside them (see README).
     */
    architecture: z.enum(['x86_64', 'arm64']).default('x86_64'),
    /**
     * How masks and class maps are kept (the functions get it as FUSEBATCH_MASKS): `rle` inline
     * in the records as COCO RLE, no object and no PUT; `png` a PNG object each; `both`.
     */
    masks: z.enum(MASK_FORMATS).default(DEFAULT_MASK_FORMAT),
    /**
     * The ingest and worker functions' inference engine (their FUSEBATCH_ENGINE): `cpu`,
     * onnxruntime-node's native CPU build (in a layer, its Linux binaries for the architecture
     * only), or `wasm`, onnxruntime-web's WebAssembly SIMD build. `cpu` is the default since
     * bench:lambda measured it cheaper per pair and faster to start, with a function package
     * within 10 MB zipped once onnxruntime-node moved to a layer: README's "Lambda engine".
     */
    lambdaEngine: z.enum(['wasm', 'cpu']).default('cpu'),
    /** Pairs per chunk: one worker-queue message, one unit of a Batch shard. */
    chunkSize: z.number().int().min(1).max(10000).default(100),
    ingest: z
      .object({
        /** Single pairs run in the ingest function itself; 2 vCPUs. */
        memoryMiB: memory.default(3538),
        /**
         * A streamed manifest of a million lines writes 10,000 chunk objects: the Lambda maximum.
         * The function also gets it as FUSEBATCH_INGEST_LEASE_SECONDS (how long a run may hold a job).
         */
        timeoutSeconds: z.number().int().min(10).max(900).default(900),
      })
      .prefault({}),
    worker: z
      .object({
        /** Memory sets Lambda's vCPUs, and the engine's threads follow them (3,538 MB: 2). */
        memoryMiB: memory.default(3538),
        /** Default: fits the chunk size (0.2 s a pair + 30 s), at least 60 s. */
        timeoutSeconds: z.number().int().min(10).max(900).optional(),
        /**
         * Caps parallel workers (and their S3 and model load): the function's reserved concurrency
         * and the queue event source's maximum concurrency both. Without the latter, SQS pollers
         * ignore the reservation, and their throttled receives count towards maxReceiveCount.
         */
        reservedConcurrency: z
          .number()
          .int()
          .min(
            2,
            'must be at least 2: it is also the SQS event source’s maximum concurrency, which SQS accepts from 2 to 1000',
          )
          .max(1000)
          .default(10),
        /**
         * Tries of a chunk: on its last, a failing chunk is dead-lettered by the worker itself, with
         * its reason. The queue's own redrive (after attempts + 2 receives) is only the backstop
         * for a worker that crashed or timed out, so a chunk is never dead-lettered unrun.
         */
        attempts: z
          .number()
          .int()
          .min(1)
          .max(1000 - REDRIVE_SPARE_RECEIVES)
          .default(3),
        maxReceiveCount: replaced(
          'replaced by worker.attempts (tries of a chunk; the queue’s maxReceiveCount is attempts + 2)',
        ),
      })
      .prefault({}),
    gpu: z
      .object({
        /** Whether the AWS Batch GPU route exists. Without it every job goes to the Lambda workers. */
        enabled: z.boolean().default(true),
        /** Jobs with more pairs than this go to AWS Batch. */
        threshold: z.number().int().min(1).default(5000),
        instanceTypes: z
          .array(z.string().regex(/^[a-z0-9]+\.[a-z0-9]+$/))
          .min(1)
          .default(['g4dn.xlarge', 'g5.xlarge']),
        /** Upper bound of the compute environment; it scales to 0 when idle. */
        maxVcpus: z.number().int().min(4).default(32),
        /**
         * Estimated seconds of GPU time per pair (decode, inference, writes), from which an array
         * job's children are counted: each gets about half of timeoutMinutes of work. Too low gives
         * children that reach their deadline and are retried; too high, more containers than needed.
         */
        secondsPerPair: z.number().min(0.0001).default(0.05),
        maxShards: replaced(
          'removed: an array job has as many children as keep each within half its timeout (see gpu.secondsPerPair)',
        ),
        containerMemoryMiB: z.number().int().min(512).default(14000),
        containerVcpus: z.number().int().min(1).default(4),
        /**
         * Minutes a child may run before Batch stops it (not retried). It stops starting chunks
         * max(60 s, 10 %) earlier and exits 1, so Batch retries it for the rest; hence at least 2.
         */
        timeoutMinutes: z
          .number()
          .int()
          .min(2, 'must be at least 2: a child stops starting chunks max(60 s, 10 %) before its timeout')
          .default(120),
      })
      .prefault({}),
    /**
     * Default share of a job's lines (in %) that may end as error records before the job stops as
     * failed; a manifest's metadata `tolerated-failure-percent` sets its own. 100: never stop.
     */
    toleratedFailurePercent: z.number().min(0).max(100).default(100),
    /**
     * Days after which results/ and state/ expire, by one rule each with the same days, or never
     * (the default): a job's records and its state go together, so a name whose state expired
     * never reports another job's old records as its own.
     */
    jobRetentionDays: z.number().int().min(1).optional(),
    /** Days before Athena query results expire. */
    temporaryObjectDays: z.number().int().min(1).default(30),
    /** Days the bucket's access logs are kept. */
    accessLogDays: z.number().int().min(1).default(90),
    /** Days Lambda and Batch logs are kept. */
    logRetentionDays: z.number().int().min(1).default(30),
  })
  .transform((c) => {
    const chunkSeconds = Math.ceil(c.chunkSize * SECONDS_PER_PAIR_BUDGET + CHUNK_OVERHEAD_SECONDS);
    const timeoutSeconds = c.worker.timeoutSeconds ?? Math.min(900, Math.max(60, chunkSeconds));
    const gpuTimeoutSeconds = c.gpu.timeoutMinutes * 60;
    return {
      ...c,
      worker: {
        ...c.worker,
        timeoutSeconds,
        threads: lambdaVcpus(c.worker.memoryMiB),
        chunkSeconds,
        /** The queue's redrive: the worker's attempts, and spare receives for crashes and timeouts. */
        maxReceiveCount: c.worker.attempts + REDRIVE_SPARE_RECEIVES,
      },
      gpu: {
        ...c.gpu,
        timeoutSeconds: gpuTimeoutSeconds,
        deadlineSeconds: gpuTimeoutSeconds - batchDeadlineMarginSeconds(gpuTimeoutSeconds),
        // Rounded, so that the variable reads 7 rather than 7.000000000000001 (0.07 × 100).
        secondsPerChunk: Math.round(c.gpu.secondsPerPair * c.chunkSize * 1e6) / 1e6,
      },
      /**
       * The ingest function runs single pairs: on `wasm` with one engine thread, since a second
       * costs onnxruntime-web a worker thread that its init starts and waits for before the
       * session, and that a single pair does not win back (the packaged function's init and
       * first event on 2 CPUs, 9 alternated rounds on a loaded machine: median 1.34 s with 2
       * threads, 0.81 s with 1). onnxruntime-node's threads are native and cheap to start.
       */
      ingestThreads: c.lambdaEngine === 'wasm' ? 1 : lambdaVcpus(c.ingest.memoryMiB),
      /** SQS hides a message for 6 × the function's timeout, as AWS advises for Lambda sources. */
      visibilityTimeoutSeconds: 6 * timeoutSeconds,
    };
  })
  .superRefine((c, ctx) => {
    if (c.worker.timeoutSeconds < c.worker.chunkSeconds) {
      ctx.addIssue({
        code: 'custom',
        path: ['worker', 'timeoutSeconds'],
        message: `${c.worker.timeoutSeconds} s is too short for chunks of ${c.chunkSize} pairs (needs ${c.worker.chunkSeconds} s: lower chunkSize or raise the timeout)`,
      });
    }
    if (c.visibilityTimeoutSeconds > 43200) {
      ctx.addIssue({
        code: 'custom',
        path: ['worker', 'timeoutSeconds'],
        message: `6 × the worker timeout (${c.visibilityTimeoutSeconds} s) exceeds SQS's 12-hour visibility limit`,
      });
    }
    if (c.gpu.enabled && c.gpu.containerVcpus > c.gpu.maxVcpus) {
      ctx.addIssue({ code: 'custom', path: ['gpu', 'containerVcpus'], message: 'exceeds gpu.maxVcpus' });
    }
  });

export type PipelineConfigInput = z.input<typeof PipelineConfigSchema>;
export type PipelineConfig = z.output<typeof PipelineConfigSchema>;

export class PipelineConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`fusebatch: invalid pipeline configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PipelineConfigError';
  }
}

/** CDK context keys are `fusebatch:<path>`, e.g. `fusebatch:worker.memoryMiB`; values may be JSON text. */
export const CONTEXT_PREFIX = 'fusebatch:';

function fromContext(context: Record<string, unknown>): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(context)) {
    if (!key.startsWith(CONTEXT_PREFIX)) continue;
    // `-c key=value` gives strings: read JSON where it parses (numbers, booleans, arrays).
    let value = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    const pathParts = key.slice(CONTEXT_PREFIX.length).split('.');
    let node = config;
    for (const part of pathParts.slice(0, -1)) {
      node[part] = (node[part] as Record<string, unknown>) ?? {};
      node = node[part] as Record<string, unknown>;
    }
    node[pathParts[pathParts.length - 1]] = value;
  }
  return config;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    const bothObjects =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object';
    out[key] = bothObjects ? merge(current as Record<string, unknown>, value as Record<string, unknown>) : value;
  }
  return out;
}

/** Props win over context; context over defaults. Throws with every problem at once. */
export function resolvePipelineConfig(props: PipelineConfigInput, context: Record<string, unknown>): PipelineConfig {
  const parsed = PipelineConfigSchema.safeParse(merge(fromContext(context), props as Record<string, unknown>));
  if (!parsed.success) throw new PipelineConfigError(formatIssues(parsed.error));
  return parsed.data;
}

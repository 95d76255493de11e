/**
 * A manifest job of evaluation pairs (plus two that fail) run through a local pipeline, as a
 * user would submit it: images uploaded, then the manifest.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { jobRecords } from '../../cli/bucket-commands.js';
import { type OutputRecord, OutputRecordSchema } from '../../lambdas/core/records.js';
import type { LocalPipeline, LocalPipelineOptions } from '../../local/local-pipeline.js';
import { evalDir, readTruthLines, referenceBundle } from './runtime.js';

export const pipelineOptions = (dataDir: string): LocalPipelineOptions => ({
  port: 0,
  dataDir,
  workers: 2,
  modelDir: referenceBundle,
  engine: 'cpu',
  threads: 1,
  chunkSize: 16,
  batchThreshold: 100_000,
  visibilityTimeoutMs: 60_000,
  maxReceiveCount: 3,
  logLevel: 'SILENT',
});

export interface EvalJob {
  readonly job: string;
  /** Every record of the job, as the pipeline wrote it. */
  readonly records: OutputRecord[];
  /** Truth lines of the job's evaluation pairs, by id. */
  readonly truth: Map<string, Record<string, unknown>>;
}

/**
 * The first `pairs` evaluation pairs as job `job`, each manifest line with an `extra` field
 * `batch` (`a` or `b`), and two pairs that fail: a truncated image and an empty caption.
 */
export async function runEvalJob(pipeline: LocalPipeline, job: string, pairs: number): Promise<EvalJob> {
  const { store } = pipeline;
  const truths = (await readTruthLines(evalDir)).slice(0, pairs);
  const lines: string[] = [];
  for (const [i, t] of truths.entries()) {
    const key = `uploads/${job}/${path.basename(String(t.image))}`;
    await store.put(key, await readFile(path.join(evalDir, String(t.image))));
    lines.push(JSON.stringify({ id: t.id, image: key, text: t.text, batch: i % 3 ? 'a' : 'b' }));
  }
  const png = await readFile(path.join(evalDir, String(truths[0].image)));
  await store.put(`uploads/${job}/truncated.png`, png.subarray(0, Math.floor(png.length / 2)));
  lines.push(JSON.stringify({ id: 'broken-truncated', image: `uploads/${job}/truncated.png`, text: 'a red circle' }));
  lines.push(
    JSON.stringify({
      id: 'broken-empty-text',
      image: `uploads/${job}/${path.basename(String(truths[0].image))}`,
      text: ' ',
    }),
  );
  await store.put(`jobs/${job}.jsonl`, lines.join('\n') + '\n');
  await pipeline.idle();
  const records: OutputRecord[] = [];
  for await (const r of jobRecords(store, job)) records.push(OutputRecordSchema.parse(r));
  return { job, records, truth: new Map(truths.map((t) => [String(t.id), t])) };
}

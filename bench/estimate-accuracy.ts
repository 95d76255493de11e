/**
 * `npm run bench:estimate`: how close `fusebatch estimate --route local` comes. Builds a job of
 * N pairs from the evaluation pairs, asks the estimate for its local duration, then runs it
 * through the local pipeline (embedded S3 server, ingest, the cpu engine shared by the
 * workers, as `fusebatch serve` runs it), from the first upload to the job's completion, and
 * prints predicted and measured seconds and their ratio (the goal: within 20 %).
 *
 *   npm run bench:estimate [-- --pairs 1500 --workers 2 --rounds 1 --measure 200]
 *
 * With --measure, each round is also predicted by `fusebatch estimate --measure`: the job's first
 * pairs run through a local pipeline just before the round, so the rate is taken at the load the
 * round meets.
 *
 * Writes bench-results/estimate-accuracy.json. Rerun bench:calibrate first on a machine whose
 * load has changed: the prediction rests on its rates.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

import { link, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { submitFolder, waitForJob } from '../cli/bucket-commands.js';
import { estimateSource, formatDuration } from '../cli/estimate.js';
import { startLocalPipeline } from '../local/local-pipeline.js';
import { cycledPairFolder } from './pair-folder.js';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    pairs: { type: 'string', default: '1500' },
    workers: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '1' },
    source: { type: 'string', default: path.join(root, 'models/reference/fixtures/eval/pairs') },
    measure: { type: 'string' },
  },
});
const total = Number(values.pairs);
const workers = Number(values.workers);
const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-bench-estimate-'));

try {
  // N pairs as a folder: hard links to the evaluation pairs, cycled.
  const folder = path.join(scratch, `estimate-${total}`);
  await cycledPairFolder(values.source, folder, total);

  const { estimate, settings } = await estimateSource(folder, {
    route: 'local',
    workers,
    context: [],
    cwd: root,
  });
  const predicted = estimate.routes.local.seconds;
  console.log(`predicted: ${predicted.toFixed(1)} s (${formatDuration(predicted)}); ${estimate.routes.local.basis}`);

  const rounds = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const measuredPrediction = values.measure
      ? (
          await estimateSource(folder, {
            route: 'local',
            workers,
            context: [],
            cwd: root,
            measure: Number(values.measure),
          })
        ).estimate.routes.local.seconds
      : undefined;
    if (measuredPrediction !== undefined) {
      console.log(`predicted from ${values.measure} pairs measured now: ${measuredPrediction.toFixed(1)} s`);
    }
    const pipeline = await startLocalPipeline({
      port: 0,
      dataDir: path.join(scratch, `s3-${round}`),
      workers,
      modelDir: path.join(root, 'models/reference'),
      engine: 'cpu',
      threads: 1,
      chunkSize: settings.chunkSize,
      batchThreshold: Number.MAX_SAFE_INTEGER,
      visibilityTimeoutMs: 60_000, // as `fusebatch serve`
      maxReceiveCount: 3,
      // A chunk that fails waits out the visibility timeout: its warning explains a slow round.
      logLevel: 'WARN',
    });
    try {
      const loadBefore = os.loadavg()[0];
      const started = performance.now();
      const { job } = await submitFolder(pipeline.store, folder, { progress: false, job: `estimate-${round}` });
      const uploaded = performance.now();
      const status = await waitForJob(pipeline.store, job, { progress: false, timeoutMs: 3_600_000, intervalMs: 100 });
      const measured = (performance.now() - started) / 1000;
      const ratio = predicted / measured;
      rounds.push({
        measured: +measured.toFixed(1),
        uploadSeconds: +((uploaded - started) / 1000).toFixed(1),
        ratio: +ratio.toFixed(3),
        ...(measuredPrediction === undefined
          ? {}
          : {
              measuredPrediction: +measuredPrediction.toFixed(1),
              measuredRatio: +(measuredPrediction / measured).toFixed(3),
            }),
        state: status.state,
        loadAverage: [+loadBefore.toFixed(2), +os.loadavg()[0].toFixed(2)],
      });
      console.log(
        `measured: ${measured.toFixed(1)} s (upload ${((uploaded - started) / 1000).toFixed(1)} s), ${status.state}; predicted/measured ${ratio.toFixed(2)}${measuredPrediction === undefined ? '' : `, measured-now/measured ${(measuredPrediction / measured).toFixed(2)}`} (load ${loadBefore.toFixed(1)} → ${os.loadavg()[0].toFixed(1)})`,
      );
    } finally {
      await pipeline.close();
    }
  }
  await mkdir(path.join(root, 'bench-results'), { recursive: true });
  await writeFile(
    path.join(root, 'bench-results/estimate-accuracy.json'),
    JSON.stringify(
      { pairs: total, workers, chunkSize: settings.chunkSize, predicted: +predicted.toFixed(1), rounds },
      null,
      2,
    ) + '\n',
  );
} finally {
  await rm(scratch, { recursive: true, force: true });
}

/**
 * One benchmark measurement in a fresh process (the wasm engine's thread count is fixed per
 * process, and start-up and peak memory are per process). Prints one JSON line.
 *
 *   child inference --engine E --threads T --batch B --iterations N
 *   child e2e       --engine E --threads T --batch B --input DIR --out DIR
 *   child first     --engine E --threads T --input DIR
 *   child host      --engine E --threads T --batch B --input DIR --out DIR
 */
import { createWriteStream } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { FolderMaskStore, listFolderPairs } from '../cli/adapters/local-files.js';
import { SharpImageDecoder } from '../lambdas/adapters/image-codec.js';
import { loadModelBundle } from '../lambdas/adapters/model-bundle.js';
import { prepareFeeds, runPipeline } from '../lambdas/core/pipeline.js';
import type { EngineName, InferenceEngine, TensorData } from '../lambdas/core/tensor.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: 'string' },
    engine: { type: 'string' },
    threads: { type: 'string', default: '1' },
    batch: { type: 'string', default: '32' },
    iterations: { type: 'string', default: '10' },
    input: { type: 'string' },
    out: { type: 'string' },
    wasmPaths: { type: 'string' },
    thread: { type: 'boolean', default: false },
  },
});
const mode = positionals[0];
const engine = values.engine as EngineName;
const threads = Number(values.threads);
const batch = Number(values.batch);
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;
/** CPU time of the whole process (every thread: engine, libvips, libuv) since `since`, in ms. */
const cpuMs = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
};

/** The engine, timed: how long at least one batch was in flight at it (queued runs overlap). */
function timeEngine(engine: InferenceEngine) {
  let inFlight = 0;
  let since = 0;
  let busy = 0;
  const timed: InferenceEngine = {
    name: engine.name,
    inputs: engine.inputs,
    outputs: engine.outputs,
    close: () => engine.close(),
    async run(feeds, options) {
      if (inFlight++ === 0) since = performance.now();
      try {
        return await engine.run(feeds, options);
      } finally {
        if (--inFlight === 0) busy += performance.now() - since;
      }
    },
  };
  return {
    engine: timed,
    reset: () => {
      busy = 0;
      since = performance.now();
    },
    busyMs: () => busy + (inFlight ? performance.now() - since : 0),
  };
}

const modulesLoadedMs = performance.now();
// --thread hosts the engine in a worker thread, as `fusebatch infer` and the workers do.
const model = await loadModelBundle(values.model!, {
  engine,
  threads,
  wasmPaths: values.wasmPaths,
  inWorkerThread: values.thread,
});
const modelReadyMs = performance.now();
const images = new SharpImageDecoder();

if (mode === 'first') {
  // Process start to the first result record of one pair.
  const [pair] = await listFolderPairs(values.input!);
  for await (const record of runPipeline([pair], { model, images })) {
    if (record.status !== 'ok') throw new Error(`first pair failed: ${JSON.stringify(record)}`);
    console.log(
      JSON.stringify({
        mode,
        engine,
        threads,
        modulesLoadedMs,
        modelReadyMs,
        firstResultMs: performance.now(),
        peakRssMb: peakRssMb(),
      }),
    );
    break;
  }
} else if (mode === 'inference') {
  // Inference only: a fixed batch of real, preprocessed pairs run again and again.
  const pairs = (await listFolderPairs(values.input!)).slice(0, batch);
  const feeds = await prepareFeeds(pairs, { model, images });
  await model.engine.run(feeds); // warm-up
  const iterations = Number(values.iterations);
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < iterations; i++) await model.engine.run(feeds);
  const cpuMsPerPair = cpuMs(cpuBefore) / (iterations * batch);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    JSON.stringify({
      mode,
      engine,
      threads,
      batch,
      pairsPerSecond: (iterations * batch) / seconds,
      cpuMsPerPair,
      peakRssMb: peakRssMb(),
    }),
  );
} else if (mode === 'e2e') {
  // The whole `infer` path: read, decode, preprocess, infer, decode tasks, write lines and masks.
  const pairs = await listFolderPairs(values.input!);
  const engineTime = timeEngine(model.engine);
  const timed = { ...model, engine: engineTime.engine };
  const warm = runPipeline(pairs.slice(0, batch), { model: timed, images, batchSize: batch });
  for await (const _ of warm) {
    // warm-up: first-run allocations and kernels
  }
  const out = createWriteStream(path.join(values.out!, 'results.jsonl'));
  const masks = new FolderMaskStore(path.join(values.out!, 'masks'));
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  engineTime.reset();
  let n = 0;
  for await (const record of runPipeline(pairs, { model: timed, images, masks, batchSize: batch })) {
    out.write(JSON.stringify(record) + '\n');
    n++;
  }
  await new Promise((resolve) => out.end(resolve));
  const seconds = (performance.now() - started) / 1000;
  const cpuMsPerPair = cpuMs(cpuBefore) / n;
  console.log(
    JSON.stringify({
      mode,
      engine,
      threads,
      batch,
      pairs: n,
      pairsPerSecond: n / seconds,
      cpuMsPerPair,
      // Overlap, not serial stages: the share of the run with a batch at the engine, and the
      // engine's own rate meanwhile (below its inference-only rate when the host's work takes
      // CPU from it). e2e rate = busy share × that rate.
      engineBusy: engineTime.busyMs() / (seconds * 1000),
      engineRatePairsPerSecond: n / (engineTime.busyMs() / 1000),
      peakRssMb: peakRssMb(),
    }),
  );
} else if (mode === 'host') {
  // The host's work alone: the `infer` path with the engine's outputs replayed (recorded from a
  // real pass over the same pairs, so records and masks are the real ones), and, apart, the
  // image decode alone by format. Nothing competes with it for the cores, unlike e2e.
  const pairs = await listFolderPairs(values.input!);
  const recorded: Record<string, TensorData>[] = [];
  const recording: InferenceEngine = {
    ...model.engine,
    run: async (feeds) => {
      const outputs = await model.engine.run(feeds);
      recorded.push(outputs);
      return outputs;
    },
  };
  for await (const _ of runPipeline(pairs, { model: { ...model, engine: recording }, images, batchSize: batch })) {
    // records the outputs; also the warm-up
  }
  let next = 0;
  const replay: InferenceEngine = { ...model.engine, run: async () => recorded[next++] };
  const out = createWriteStream(path.join(values.out!, 'results.jsonl'));
  const masks = new FolderMaskStore(path.join(values.out!, 'masks'));
  const cpuBefore = process.cpuUsage();
  let n = 0;
  for await (const record of runPipeline(pairs, {
    model: { ...model, engine: replay },
    images,
    masks,
    batchSize: batch,
  })) {
    out.write(JSON.stringify(record) + '\n');
    n++;
  }
  await new Promise((resolve) => out.end(resolve));
  const hostCpuMsPerPair = cpuMs(cpuBefore) / n;
  // Decode alone, batch by batch as the pipeline runs it, by format (file extension).
  const spec = model.manifest.inputs.image!;
  const byFormat: Record<string, Uint8Array[]> = {};
  for (const pair of pairs) {
    const format = `decodeCpuMsPerPair_${path.extname(pair.image!).slice(1)}`;
    byFormat[format] = [...(byFormat[format] ?? []), await pair.readImage()];
  }
  const all = Object.values(byFormat).flat();
  const decodeCpu = async (files: Uint8Array[]) => {
    const before = process.cpuUsage();
    for (let i = 0; i < files.length; i += batch) {
      await Promise.all(files.slice(i, i + batch).map((bytes) => images.decode(bytes, spec)));
    }
    return cpuMs(before) / files.length;
  };
  await decodeCpu(all); // warm-up
  // One format at a time: process.cpuUsage counts the whole process.
  const decodes: Record<string, number> = {};
  for (const [k, files] of Object.entries(byFormat)) decodes[k] = await decodeCpu(files);
  console.log(
    JSON.stringify({
      mode,
      engine,
      threads,
      batch,
      pairs: n,
      hostCpuMsPerPair,
      decodeCpuMsPerPair: await decodeCpu(all),
      ...decodes,
      peakRssMb: peakRssMb(),
    }),
  );
} else {
  throw new Error(`unknown mode ${mode}`);
}
await model.engine.close();
process.exit(0);

/**
 * `npm run bench:runtime` (the first part of `npm run bench`): runtime benchmarks on the
 * reference model, each measurement in a fresh process, configurations interleaved round by
 * round so that a noisy neighbour hits all of them alike; medians are reported. Writes
 * bench-results/runtime.json.
 *
 *   npm run bench:runtime [-- --rounds 3] [--engines cpu] [--sections host,e2e,inference]
 *
 * Sections: inference, e2e, host (the host's work alone: the `infer` path with inference
 * replayed, and the image decode alone by format), first, before-heads; all by default.
 */
import { execFile, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const model = path.join(root, 'models/reference');
const input = path.join(model, 'fixtures/eval/pairs');
const SECTIONS = ['inference', 'e2e', 'host', 'first', 'before-heads'];
const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    engines: { type: 'string', default: 'wasm,cpu' },
    sections: { type: 'string', default: SECTIONS.join(',') },
  },
});
const rounds = Number(values.rounds);
const sections = new Set(values.sections.split(','));
for (const section of sections) {
  if (!SECTIONS.includes(section))
    throw new Error(`unknown section '${section}'; the sections: ${SECTIONS.join(', ')}`);
}
const run = promisify(execFile);

// The child is bundled as a Lambda would be, so start-up time is not a TypeScript loader's.
const buildDir = path.join(root, 'bench/.build');
await build({
  // The engine's worker thread loads engine-worker.mjs from beside the bundle.
  entryPoints: [path.join(root, 'bench/child.ts'), path.join(root, 'lambdas/adapters/engines/engine-worker.ts')],
  outdir: buildDir,
  entryNames: '[name]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['onnxruntime-node', 'onnxruntime-web', 'sharp'],
  logLevel: 'warning',
});

type Row = Record<string, number | string>;
async function child(args: string[], bundle = model): Promise<Row> {
  const { stdout } = await run(process.execPath, [path.join(buildDir, 'child.mjs'), ...args, '--model', bundle], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/**
 * The reference bundle before its objects and scene heads (the commit that last shipped it),
 * taken from git history, so that both are measured in the same run; null outside a git clone.
 */
const BEFORE_HEADS = '7be0e3e';
async function bundleBeforeHeads(dir: string): Promise<string | null> {
  try {
    await mkdir(dir, { recursive: true });
    for (const file of ['model.onnx', 'model.json', 'tokenizer.json']) {
      const bytes = execFileSync('git', ['show', `${BEFORE_HEADS}:models/reference/${file}`], {
        cwd: root,
        maxBuffer: 64 << 20,
      });
      await writeFile(path.join(dir, file), bytes);
    }
    return dir;
  } catch {
    return null;
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const engines = values.engines.split(',');
const threadCounts = [1, 2];
const batches = [1, 8, 32];
const samples = new Map<string, Row[]>();
const add = (key: string, row: Row) => samples.set(key, [...(samples.get(key) ?? []), row]);
const scratch = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-bench-'));
const before = sections.has('before-heads') ? await bundleBeforeHeads(path.join(scratch, 'before-heads')) : null;

for (let round = 1; round <= rounds; round++) {
  process.stderr.write(`round ${round}/${rounds}\n`);
  for (const engine of engines) {
    for (const threads of threadCounts) {
      for (const batch of sections.has('inference') ? batches : []) {
        const iterations = String(Math.max(5, Math.round(256 / batch)));
        add(
          `inference ${engine} t${threads} b${batch}`,
          await child([
            'inference',
            '--engine',
            engine,
            '--threads',
            String(threads),
            '--batch',
            String(batch),
            '--iterations',
            iterations,
            '--input',
            input,
          ]),
        );
      }
      if (!sections.has('e2e')) continue;
      const out = path.join(scratch, `${engine}-${threads}-${round}`);
      await mkdir(out, { recursive: true });
      add(
        `e2e ${engine} t${threads} b32`,
        await child([
          'e2e',
          '--engine',
          engine,
          '--threads',
          String(threads),
          '--batch',
          '32',
          '--input',
          input,
          '--out',
          out,
          // As `fusebatch infer` runs: the engine in a worker thread.
          '--thread',
        ]),
      );
    }
    if (sections.has('host')) {
      // The host's work alone (inference replayed): its CPU per pair, and the decode's by format.
      const out = path.join(scratch, `host-${engine}-${round}`);
      await mkdir(out, { recursive: true });
      const args = ['--engine', engine, '--threads', '1', '--batch', '32', '--input', input, '--out', out];
      add(`host ${engine}`, await child(['host', ...args]));
    }
    if (sections.has('first')) {
      add(`first ${engine}`, await child(['first', '--engine', engine, '--threads', '1', '--input', input]));
    }
    if (before) {
      // The same pairs and settings on the model without the objects and scene heads.
      const args = ['--engine', engine, '--threads', '1', '--batch', '32', '--input', input];
      add(`before-heads inference ${engine} t1 b32`, await child(['inference', ...args, '--iterations', '8'], before));
      const out = path.join(scratch, `before-${engine}-${round}`);
      await mkdir(out, { recursive: true });
      add(`before-heads e2e ${engine} t1 b32`, await child(['e2e', ...args, '--out', out, '--thread'], before));
    }
  }
}
await rm(scratch, { recursive: true, force: true });

const summary: Record<string, Row> = {};
for (const [key, rows] of samples) {
  const numeric = Object.keys(rows[0]).filter(
    (k) => typeof rows[0][k] === 'number' && !['threads', 'batch', 'pairs'].includes(k),
  );
  summary[key] = {
    ...rows[0],
    ...Object.fromEntries(numeric.map((k) => [k, median(rows.map((r) => r[k] as number))])),
    runs: rows.length,
  };
}
const rate = (key: string) => summary[key]?.pairsPerSecond as number;
const ratios: Record<string, number> = {};
// Only where both sides were measured (--engines and --sections can leave some out).
const ratio = (name: string, a: string, b: string) => {
  if (summary[a] && summary[b]) ratios[name] = rate(a) / rate(b);
};
for (const threads of threadCounts) {
  for (const batch of batches)
    ratio(
      `wasm/cpu inference t${threads} b${batch}`,
      `inference wasm t${threads} b${batch}`,
      `inference cpu t${threads} b${batch}`,
    );
  for (const engine of engines)
    ratio(
      `e2e/inference ${engine} t${threads} b32`,
      `e2e ${engine} t${threads} b32`,
      `inference ${engine} t${threads} b32`,
    );
}
if (before) {
  for (const engine of engines) {
    ratio(
      `e2e/inference ${engine} t1 b32, before the objects and scene heads`,
      `before-heads e2e ${engine} t1 b32`,
      `before-heads inference ${engine} t1 b32`,
    );
  }
}

const report = {
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
  rounds,
  medians: summary,
  ratios,
};
await mkdir(path.join(root, 'bench-results'), { recursive: true });
await writeFile(path.join(root, 'bench-results/runtime.json'), JSON.stringify(report, null, 2) + '\n');

const fmt = (n: number, d = 1) => n.toFixed(d);
console.log(
  `\nruntime benchmark, reference model, medians of ${rounds} runs (${report.machine.cpus} CPUs, ${report.machine.cpu})\n`,
);
if (sections.has('inference')) {
  console.log('inference only, pairs/s        batch 1   batch 8  batch 32   peak RSS MB');
  for (const engine of engines) {
    for (const threads of threadCounts) {
      const cells = batches.map((b) => fmt(rate(`inference ${engine} t${threads} b${b}`)).padStart(9));
      console.log(
        `  ${`${engine}, ${threads} thread(s)`.padEnd(28)}${cells.join(' ')}${fmt(summary[`inference ${engine} t${threads} b32`].peakRssMb as number, 0).padStart(14)}`,
      );
    }
  }
}
if (Object.keys(ratios).length) {
  console.log('\nratios');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(34)} ${fmt(v, 2)}`);
}
if (sections.has('e2e')) {
  console.log('\nend to end (`infer` path: read, decode, preprocess, infer, decode tasks, write), batch 32');
  for (const engine of engines) {
    for (const threads of threadCounts) {
      const s = summary[`e2e ${engine} t${threads} b32`];
      const inference = summary[`inference ${engine} t${threads} b32`];
      // CPU time per pair, all threads: what the e2e rate can reach on this many cores.
      const cpuMs = s.cpuMsPerPair as number;
      console.log(
        `  ${`${engine}, ${threads} thread(s)`.padEnd(28)} ${fmt(s.pairsPerSecond as number)} pairs/s, peak RSS ${fmt(s.peakRssMb as number, 0)} MB, ` +
          `CPU ${fmt(cpuMs, 2)} ms/pair` +
          (inference
            ? ` (inference alone ${fmt(inference.cpuMsPerPair as number, 2)}, the host's work ${fmt(cpuMs - (inference.cpuMsPerPair as number), 2)}), `
            : ', ') +
          `at most ${fmt((report.machine.cpus * 1000) / cpuMs)} pairs/s on ${report.machine.cpus} cores`,
      );
      if (!inference) continue;
      console.log(
        `  ${''.padEnd(28)} engine busy ${fmt(100 * (s.engineBusy as number), 0)} % of the run, ` +
          `at ${fmt(s.engineRatePairsPerSecond as number)} pairs/s meanwhile ` +
          `(${fmt((s.engineRatePairsPerSecond as number) / (inference.pairsPerSecond as number), 2)} of its inference-only rate)`,
      );
    }
  }
}
if (sections.has('host')) {
  console.log(
    "\nthe host's work alone (the `infer` path with inference replayed; decode alone by format), CPU ms/pair",
  );
  for (const engine of engines) {
    const s = summary[`host ${engine}`];
    const formats = Object.keys(s)
      .filter((k) => k.startsWith('decodeCpuMsPerPair_'))
      .map((k) => `${k.slice('decodeCpuMsPerPair_'.length)} ${fmt(s[k] as number, 2)}`);
    console.log(
      `  ${engine.padEnd(28)} ${fmt(s.hostCpuMsPerPair as number, 2)}, of which decode ${fmt(s.decodeCpuMsPerPair as number, 2)} (${formats.join(', ')})`,
    );
  }
}
if (sections.has('first')) {
  console.log('\ntime from process start to first result (1 pair, bundled child)');
  for (const engine of engines) {
    const s = summary[`first ${engine}`];
    console.log(
      `  ${engine.padEnd(28)} ${fmt(s.firstResultMs as number, 0)} ms, peak RSS ${fmt(s.peakRssMb as number, 0)} MB`,
    );
  }
}
console.log('\nwrote bench-results/runtime.json');

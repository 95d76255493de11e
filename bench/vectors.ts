/**
 * `npm run bench:vectors`: loading a word-vector file the size of GloVe's common release
 * (400,000 words × 100 dimensions, about 330 MB of text) into fusebatch's one typed array.
 * Each round loads it in a fresh process (so heap and RSS are the loader's own) and reports
 * load time, peak RSS and the retained heap plus array buffers after a forced GC. Medians of
 * the rounds go to bench-results/vectors.json.
 *
 *   npm run bench:vectors [-- --words 400000 --dim 100 --rounds 3]
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    words: { type: 'string', default: '400000' },
    dim: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    child: { type: 'string' },
  },
});

if (values.child) {
  // One load, in this fresh process.
  const { loadWordVectors } = await import('../lambdas/adapters/word-vectors.js');
  const started = performance.now();
  const vectors = await loadWordVectors(values.child);
  const seconds = (performance.now() - started) / 1000;
  globalThis.gc?.();
  const memory = process.memoryUsage();
  const resource = process.resourceUsage();
  console.log(
    JSON.stringify({
      seconds,
      words: vectors.words,
      dim: vectors.dim,
      arrayMB: vectors.data.byteLength / 1e6,
      retainedMB: (memory.heapUsed + memory.arrayBuffers) / 1e6,
      peakRssMB: resource.maxRSS / 1e3,
    }),
  );
  process.exit(0);
}

const words = Number(values.words);
const dim = Number(values.dim);
const file = path.join(os.tmpdir(), `fusebatch-vectors-${words}x${dim}.txt`);
if (!existsSync(file)) {
  // Words like GloVe's (a few letters), values like its (6 decimals, signed), a fixed seed.
  let seed = 20240;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const out = createWriteStream(file);
  for (let w = 0; w < words; w++) {
    const row = [`w${w.toString(36)}`];
    for (let k = 0; k < dim; k++) row.push(((random() - 0.5) * 2).toFixed(6));
    if (!out.write(`${row.join(' ')}\n`)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve) => out.end(() => resolve()));
}
const bytes = (await stat(file)).size;
const runs: Record<string, number>[] = [];
for (let r = 0; r < Number(values.rounds); r++) {
  const line = execFileSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', path.join(root, 'bench/vectors.ts'), '--child', file],
    { cwd: root, encoding: 'utf8' },
  );
  runs.push(JSON.parse(line.trim().split('\n').pop()!));
}
const median = (key: string) => runs.map((r) => r[key]).sort((a, b) => a - b)[runs.length >> 1];
const report = {
  words,
  dim,
  fileMB: bytes / 1e6,
  rounds: runs.length,
  cpus: os.availableParallelism(),
  loadSeconds: median('seconds'),
  arrayMB: runs[0].arrayMB,
  retainedMB: median('retainedMB'),
  peakRssMB: median('peakRssMB'),
  runs,
};
await mkdir(path.join(root, 'bench-results'), { recursive: true });
await writeFile(path.join(root, 'bench-results/vectors.json'), JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report, null, 2));

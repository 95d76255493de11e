/**
 * The `fusebatch` command line. Thin: parses arguments, calls the command, prints, and sets
 * the exit code (non-zero only when a command could not run at all).
 */
import os from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { infer } from '../lambdas/cli/infer.js';
import { describeModel } from '../lambdas/cli/validate-model.js';
import { FusebatchError } from '../lambdas/core/errors.js';
import { ENGINE_NAMES, type EngineName } from '../lambdas/core/tensor.js';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

const engineOption = () =>
  new Option('--engine <engine>', 'inference engine').choices(ENGINE_NAMES).default('cpu' satisfies EngineName);

const program = new Command('fusebatch')
  .description('Batch inference for fused multimodal multi-task ONNX models')
  .showHelpAfterError();

program
  .command('infer')
  .description('run a model on a folder of pairs (<id>.<image ext> + <id>.txt) into a JSON Lines file')
  .requiredOption('--model <dir>', 'model bundle folder (model.json, model.onnx, tokenizer)')
  .requiredOption('--input <dir>', 'folder of pairs, subfolders included')
  .requiredOption('--out <file>', 'results file, one JSON line per pair')
  .addOption(engineOption())
  .option('--batch <n>', "batch size (default: the model's maxBatchSize)", positiveInt)
  .option('--threads <n>', 'threads per inference', positiveInt, Math.min(2, os.availableParallelism()))
  .option('--masks <dir>', 'write segmentation masks as PNG files here')
  .option('--truth <file>', 'ground truth (JSON Lines by id) to score the results against, task by task')
  .action(async (opts) => {
    const summary = await infer({ ...opts, progress: Boolean(process.stderr.isTTY) });
    const codes = Object.entries(summary.errorsByCode)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    console.log(
      `${summary.pairs} pairs, ${summary.errors} errors${codes ? ` (${codes})` : ''}, ` +
        `${summary.seconds.toFixed(1)} s, ${summary.pairsPerSecond.toFixed(1)} pairs/s -> ${opts.out}`,
    );
    for (const m of summary.metrics ?? []) {
      const empty = m.emptyTargets
        ? `; empty targets predicted empty ${(100 * m.emptyPredictedEmpty!).toFixed(1)} % of ${m.emptyTargets}`
        : '';
      console.log(
        `  ${m.task.padEnd(12)} ${m.metric.padEnd(9)} ${(100 * m.value).toFixed(2).padStart(6)} %  (${m.pairs} pairs${empty})`,
      );
    }
  });

program
  .command('validate-model')
  .description('check a model bundle against its ONNX graph and print its inputs and tasks')
  .argument('<dir>', 'model bundle folder')
  .addOption(engineOption())
  .action(async (dir: string, opts: { engine: EngineName }) => {
    console.log(await describeModel(dir, opts.engine));
    console.log('ok');
  });

try {
  await program.parseAsync();
} catch (error) {
  // Known errors print their message alone; anything else keeps its stack.
  console.error(error instanceof FusebatchError ? `fusebatch: ${error.message}` : error);
  process.exitCode = 1;
}

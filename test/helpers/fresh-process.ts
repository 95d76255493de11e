/**
 * Deployed entry points run as AWS runs them: a fresh Node process that imports the module
 * (init) and calls its handler with an event, against the embedded S3 server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { createS3Client, S3ObjectStore } from '../../lambdas/adapters/s3-store.js';

export interface EmbeddedS3 {
  readonly endpoint: string;
  readonly bucket: string;
  readonly store: S3ObjectStore;
  close(): Promise<void>;
}

/** An S3 server with one bucket and nothing listening to its events. */
export async function startEmbeddedS3(bucket = 'fusebatch'): Promise<EmbeddedS3> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'fusebatch-s3-'));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    store: new S3ObjectStore(createS3Client({ bucket, endpoint }), bucket),
    close: () => server.close(),
  };
}

export interface ProcessOutcome {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end without blocking this process (the S3 server lives here).
 * @param launcher a command that starts Node, e.g. `['taskset', '-c', '0']` to give it one CPU.
 */
export function runProcess(
  args: string[],
  env: Record<string, string>,
  cwd?: string,
  onStart?: (child: ChildProcess) => void,
  launcher: string[] = [],
): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    const [command, ...prefix] = [...launcher, process.execPath];
    const child = spawn(command, [...prefix, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', AWS_REGION: 'us-east-1', ...env },
    });
    onStart?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? -1 : null), stdout, stderr }));
  });
}

export interface HandlerRun extends ProcessOutcome {
  /** What the handler returned. */
  readonly result: unknown;
  /** Milliseconds to import the module (Lambda's init phase) and to handle the first event. */
  readonly initMs: number;
  readonly firstEventMs: number;
  /**
   * Of initMs + firstEventMs, the milliseconds the main thread was ready to run but waited for a
   * CPU (Linux; 0 elsewhere): what other work on a shared machine added to the wall clock.
   */
  readonly firstRunQueueMs: number;
  /** The process's peak resident memory (main and worker threads). */
  readonly peakRssMb: number;
  /** What the handler returned for each of `laterEvents`, and the milliseconds each took (warm). */
  readonly laterResults: unknown[];
  readonly laterEventMs: number[];
  /** CPU time of the whole process (every thread, user and system) during each later event. */
  readonly laterEventCpuMs: number[];
}

export interface HandlerRunOptions {
  /** Events handled after the first by the same (by then warm) module, each timed. */
  readonly laterEvents?: unknown[];
  /** CPUs the process may use (0 to cpus - 1, by taskset): Lambda gives 1 vCPU per 1,769 MB. */
  readonly cpus?: number;
}

const MARKER = '@@fusebatch-handler-run@@';

/** Imports `moduleFile` in a fresh process, calls its `handler` with `event`, and returns what it returned. */
export async function runHandlerInFreshProcess(
  moduleFile: string,
  event: unknown,
  env: Record<string, string>,
  { laterEvents = [], cpus }: HandlerRunOptions = {},
): Promise<HandlerRun> {
  const script = `
    const { readFileSync } = await import('node:fs');
    // The main thread's time waiting for a CPU (Linux's schedstat, nanoseconds): the load's share.
    const waited = () => { try { return Number(readFileSync('/proc/self/task/' + process.pid + '/schedstat', 'utf8').split(' ')[1]) / 1e6; } catch { return 0; } };
    const w0 = waited();
    const t0 = performance.now();
    const m = await import(${JSON.stringify(path.resolve(moduleFile))});
    const t1 = performance.now();
    const result = await m.handler(${JSON.stringify(event)});
    const t2 = performance.now();
    const firstRunQueueMs = waited() - w0;
    const laterResults = [];
    const laterEventMs = [];
    const laterEventCpuMs = [];
    for (const event of ${JSON.stringify(laterEvents)}) {
      const t = performance.now();
      const cpu = process.cpuUsage();
      laterResults.push(await m.handler(event));
      laterEventMs.push(performance.now() - t);
      const used = process.cpuUsage(cpu);
      laterEventCpuMs.push((used.user + used.system) / 1000);
    }
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    console.log(${JSON.stringify(MARKER)} + JSON.stringify({ result, initMs: t1 - t0, firstEventMs: t2 - t1, firstRunQueueMs, peakRssMb, laterResults, laterEventMs, laterEventCpuMs }));
    process.exit(0);`;
  const launcher = cpus ? ['taskset', '-c', cpus === 1 ? '0' : `0-${cpus - 1}`] : [];
  // A script file rather than `--input-type=module -e`: worker threads inherit the process's
  // flags, and onnxruntime-web's own threads (wasm, 2 threads or more, outside the engine
  // thread) refuse --input-type.
  const scriptFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'fusebatch-handler-')), 'run.mjs');
  await writeFile(scriptFile, script);
  const outcome = await runProcess(['--no-warnings', scriptFile], env, undefined, undefined, launcher);
  const line = outcome.stdout.split('\n').find((l) => l.startsWith(MARKER));
  if (!line) throw new Error(`the handler did not finish (exit ${outcome.code}):\n${outcome.stderr || outcome.stdout}`);
  return { ...outcome, ...JSON.parse(line.slice(MARKER.length)) };
}

/** An S3 object-created event as AWS sends it (keys URL-encoded). */
export const s3Event = (bucket: string, ...keys: string[]) => ({
  Records: keys.map((key) => ({
    eventName: 'ObjectCreated:Put',
    s3: {
      bucket: { name: bucket },
      object: { key: encodeURIComponent(key).replace(/%2F/g, '/').replace(/%20/g, '+') },
    },
  })),
});

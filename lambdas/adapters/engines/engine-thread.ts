/**
 * Any engine, hosted in a worker thread. onnxruntime runs a batch synchronously on the thread
 * that calls it; hosted here, inference of one batch overlaps decoding and writing of the
 * others on the host thread, which is what lets end-to-end throughput approach inference-only
 * throughput. Outputs cross by transfer; inputs by structured clone, or by transfer when the
 * caller hands them over (RunOptions.handOver, as the pipeline does with each batch's feeds).
 *
 * A thread that dies (a crash, a WebAssembly instance out of memory, a run past the per-run
 * timeout) fails the runs it held with an EngineError saying why, and the next run starts a
 * fresh thread with the same model and options. A replacement that dies soon after starting,
 * or a death past the restart limit, is taken as a crash loop: from then on every run fails
 * at once, rather than hanging on a dead thread or restarting forever.
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { EngineError } from '../../core/errors.js';
import type { EngineName, InferenceEngine, RunOptions, TensorData, TensorInfo } from '../../core/tensor.js';
import type { HostMessage, WorkerMessage } from './engine-worker.js';
import type { EngineOptions } from './index.js';

/** How the host treats a thread that dies or wedges. */
export interface EngineThreadOptions {
  /** Fresh threads started after deaths, over the engine's life. Default 3; 0: never. */
  readonly maxRestarts?: number;
  /** A replacement thread that dies within this many ms of being ready is not replaced. Default 30,000. */
  readonly restartWindowMs?: number;
  /**
   * A run unanswered after this many ms stops its thread (onnxruntime cannot cancel a run),
   * failing it and every run the thread held. Measured from posting, so it includes waiting
   * behind the runs posted before it. Default: no limit. Meant for wasm: ending a thread in the
   * middle of an onnxruntime-node run (cpu, cuda) aborts the whole process (seen in tests).
   */
  readonly runTimeoutMs?: number;
}

const DEFAULT_MAX_RESTARTS = 3;
const DEFAULT_RESTART_WINDOW_MS = 30_000;

/**
 * The worker's module: engine-worker.mjs beside a bundle (the Lambda package), or the source
 * file, which the worker then loads through tsx like the host (tests, the CLI).
 */
function startWorker(): Worker {
  // A worker inherits the process's flags; --input-type (a script given with -e) is refused for a file.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  for (const name of ['engine-worker.mjs', 'engine-worker.js', 'engine-worker-tsx.mjs']) {
    const url = new URL(`./${name}`, import.meta.url);
    if (existsSync(url)) return new Worker(url, { execArgv });
  }
  throw new EngineError(`no engine-worker module beside ${import.meta.url}`);
}

interface Pending {
  resolve: (outputs: Record<string, TensorData>) => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

type Ready = Extract<WorkerMessage, { type: 'ready' }>;

/** Says why a thread ended, to its runs and to later callers (and decides about restarting). */
type DeathHandler = (thread: EngineThread, reason: string, cause?: unknown) => EngineError;

/** One worker thread and its engine: started, ready, then ended (died, stopped or closed). */
class EngineThread {
  readonly worker: Worker;
  /** Rejects when the engine cannot start in the thread, or the thread ends first. */
  readonly ready: Promise<Ready>;
  /** Resolves once the thread has ended and its runs have been failed. */
  readonly gone: Promise<void>;
  readonly pending = new Map<number, Pending>();
  readyAt: number | undefined;
  ended: EngineError | undefined;
  closing = false;
  /** Why the host itself ended the thread, when it did (a wedged run, an engine that could not start). */
  stopReason: string | undefined;
  private failReady: (error: Error) => void = () => undefined;
  private markGone: () => void = () => undefined;

  constructor(
    name: EngineName,
    model: Uint8Array,
    options: EngineOptions,
    /** Whether this thread replaces one that died. */
    readonly isRestart: boolean,
    private readonly onDeath: DeathHandler,
  ) {
    this.worker = startWorker();
    this.gone = new Promise((resolve) => {
      this.markGone = resolve;
    });
    this.ready = new Promise<Ready>((resolve, reject) => {
      this.failReady = reject;
      this.worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          this.readyAt = Date.now();
          resolve(message);
        } else if (message.type === 'result') {
          this.settle(message.id)?.resolve(message.outputs);
        } else if (message.type === 'failed' && message.id !== null) {
          this.settle(message.id)?.reject(Object.assign(new Error(message.message), { name: message.name }));
        } else if (message.type === 'failed' && this.readyAt === undefined) {
          // The engine could not start here (CUDA that cannot load, say): nothing will run on this thread.
          reject(Object.assign(new EngineError(message.message), { name: message.name }));
          this.stop(`its engine could not start: ${message.message}`);
        }
      });
    });
    // Whoever awaits `ready` sees its failure; this keeps an unawaited one from counting as unhandled.
    this.ready.catch(() => undefined);
    this.worker.on('error', (error) => this.end(error.message, error));
    this.worker.on('exit', (code) => this.end(`exit code ${code}`));
    this.worker.postMessage({ type: 'init', name, model, options } satisfies HostMessage);
  }

  settle(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    this.pending.delete(id);
    if (entry?.timer) clearTimeout(entry.timer);
    return entry;
  }

  /** Ends the thread from the host; its runs then fail with this reason. */
  stop(reason: string) {
    this.stopReason ??= reason;
    void this.worker.terminate();
  }

  /** The first report of the end wins (an 'error' is followed by an 'exit'). */
  private end(reason: string, cause?: unknown) {
    if (this.ended) return;
    this.ended = this.closing
      ? new EngineError('the engine was closed before this run finished')
      : this.onDeath(this, this.stopReason ?? reason, cause);
    // After an 'error' the thread may still be unwinding: make sure it is gone.
    void this.worker.terminate();
    this.failReady(this.ended);
    for (const id of [...this.pending.keys()]) this.settle(id)?.reject(this.ended);
    this.markGone();
  }
}

/**
 * The feeds' memory that can move to the thread instead of being copied (a batch's image
 * tensor is megabytes): each array's buffer once, where the array is the whole of it; an
 * array that is a view into a larger or shared buffer is copied, so that nothing else the
 * caller holds is emptied.
 */
function movable(feeds: Record<string, TensorData>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const { data } of Object.values(feeds)) {
    const buffer = data.buffer;
    if (buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buffer.byteLength) {
      buffers.add(buffer);
    }
  }
  return [...buffers];
}

interface Limits {
  readonly maxRestarts: number;
  readonly restartWindowMs: number;
  readonly runTimeoutMs?: number;
}

class ThreadedEngine implements InferenceEngine {
  private nextId = 0;
  private restarts = 0;
  /** Set when the engine stops restarting: every later run fails with it. */
  private gaveUp: EngineError | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    readonly name: EngineName,
    readonly inputs: readonly TensorInfo[],
    readonly outputs: readonly TensorInfo[],
    private thread: EngineThread | undefined,
    private readonly startThread: (isRestart: boolean) => EngineThread,
    private readonly limits: Limits,
  ) {}

  /** The current thread's id; undefined while none runs (after a death, until the next run). */
  get threadId(): number | undefined {
    return this.thread?.worker.threadId;
  }

  /** A thread died (it was not closed): the error its runs get, and whether another is started. */
  threadDied(thread: EngineThread, reason: string, cause?: unknown): EngineError {
    if (this.thread === thread) this.thread = undefined;
    const died = `the ${this.name} engine's worker thread died (${reason})`;
    if (this.closed) return new EngineError(died, { cause });
    const livedMs = thread.readyAt === undefined ? 0 : Date.now() - thread.readyAt;
    let stop: string | undefined;
    if (this.restarts >= this.limits.maxRestarts) {
      stop = `it was restarted ${this.restarts} time(s) already (limit ${this.limits.maxRestarts})`;
    } else if (thread.isRestart && livedMs < this.limits.restartWindowMs) {
      stop = `the restarted thread died ${livedMs} ms after starting (within ${this.limits.restartWindowMs} ms)`;
    }
    if (!stop) return new EngineError(`${died}; the next run starts a fresh thread`, { cause });
    this.gaveUp = new EngineError(`the ${this.name} engine is not usable: ${died}, and ${stop}`, { cause });
    return this.gaveUp;
  }

  run(feeds: Record<string, TensorData>, options?: RunOptions): Promise<Record<string, TensorData>> {
    if (this.closed) return Promise.reject(new EngineError(`the ${this.name} engine is closed`));
    if (this.gaveUp) return Promise.reject(this.gaveUp);
    if (!this.thread) {
      this.restarts++;
      this.thread = this.startThread(true);
    }
    const thread = this.thread;
    // A thread the host is stopping takes no more runs: they go to its replacement, if there is one.
    if (thread.stopReason !== undefined) return thread.gone.then(() => this.run(feeds, options));
    // Posted at once to a ready thread: the run is in the thread's hands when run() returns.
    if (thread.readyAt !== undefined) return this.post(thread, feeds, options);
    return thread.ready.then(() => this.post(thread, feeds, options));
  }

  private post(
    thread: EngineThread,
    feeds: Record<string, TensorData>,
    options?: RunOptions,
  ): Promise<Record<string, TensorData>> {
    if (thread.ended) return Promise.reject(thread.ended);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const entry: Pending = { resolve, reject };
      const timeout = this.limits.runTimeoutMs;
      if (timeout) {
        entry.timer = setTimeout(() => {
          thread.settle(id);
          reject(
            new EngineError(`a ${this.name} run got no answer within ${timeout} ms; its worker thread is stopped`),
          );
          // A wedged thread cannot be interrupted, only ended; the runs it holds fail with this reason.
          thread.stop(`stopped: a run got no answer within ${timeout} ms`);
        }, timeout);
      }
      thread.pending.set(id, entry);
      thread.worker.postMessage(
        { type: 'run', id, feeds } satisfies HostMessage,
        options?.handOver ? movable(feeds) : [],
      );
    });
  }

  /** Ends the current thread as a crash would, without telling it (tests of the restart path). */
  async killThread(): Promise<void> {
    await this.thread?.worker.terminate();
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      const thread = this.thread;
      this.thread = undefined;
      if (!thread || thread.ended) return;
      thread.closing = true;
      try {
        await thread.ready;
      } catch {
        return;
      }
      if (thread.ended) return;
      await new Promise<void>((resolve) => {
        thread.worker.once('exit', () => resolve());
        thread.worker.postMessage({ type: 'close' } satisfies HostMessage);
      });
    })();
    return this.closed;
  }
}

export async function createThreadedEngine(
  name: EngineName,
  model: Uint8Array,
  options: EngineOptions & EngineThreadOptions,
): Promise<InferenceEngine> {
  const { maxRestarts, restartWindowMs, runTimeoutMs, ...engineOptions } = options;
  const limits: Limits = {
    maxRestarts: maxRestarts ?? DEFAULT_MAX_RESTARTS,
    restartWindowMs: restartWindowMs ?? DEFAULT_RESTART_WINDOW_MS,
    runTimeoutMs,
  };
  let engine: ThreadedEngine | undefined;
  // Until the engine exists, a death is the failed start itself, reported by createThreadedEngine.
  const onDeath: DeathHandler = (thread, reason, cause) =>
    engine?.threadDied(thread, reason, cause) ??
    new EngineError(`the ${name} engine's worker thread died while starting (${reason})`, { cause });
  const startThread = (isRestart: boolean) => new EngineThread(name, model, engineOptions, isRestart, onDeath);
  const first = startThread(false);
  const ready = await first.ready.catch(async (error: Error) => {
    await first.worker.terminate();
    throw error;
  });
  engine = new ThreadedEngine(name, ready.inputs, ready.outputs, first, startThread, limits);
  return engine;
}

function threaded(engine: InferenceEngine): ThreadedEngine {
  if (!(engine instanceof ThreadedEngine)) throw new TypeError(`the ${engine.name} engine is not in a worker thread`);
  return engine;
}

/** For tests: ends the engine's current worker thread as a crash would. */
export function killEngineThread(engine: InferenceEngine): Promise<void> {
  return threaded(engine).killThread();
}

/** For tests and logs: the id of the engine's current worker thread (undefined while none runs). */
export function engineThreadId(engine: InferenceEngine): number | undefined {
  return threaded(engine).threadId;
}

/**
 * Any engine, hosted in a worker thread. onnxruntime runs a batch synchronously on the thread
 * that calls it; hosted here, inference of one batch overlaps decoding and writing of the
 * others on the host thread, which is what lets end-to-end throughput approach inference-only
 * throughput. Tensors cross by structured clone (inputs) and transfer (outputs).
 */
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { EngineError } from '../../core/errors.js';
import type { EngineName, InferenceEngine, TensorData, TensorInfo } from '../../core/tensor.js';
import type { HostMessage, WorkerMessage } from './engine-worker.js';
import type { EngineOptions } from './index.js';

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

class ThreadedEngine implements InferenceEngine {
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (o: Record<string, TensorData>) => void; reject: (e: Error) => void }
  >();
  private closed: Promise<void> | undefined;

  constructor(
    readonly name: EngineName,
    private readonly worker: Worker,
    readonly inputs: readonly TensorInfo[],
    readonly outputs: readonly TensorInfo[],
  ) {
    worker.on('message', (message: WorkerMessage) => {
      if (message.type === 'result') this.settle(message.id)?.resolve(message.outputs);
      else if (message.type === 'failed' && message.id !== null) {
        this.settle(message.id)?.reject(Object.assign(new Error(message.message), { name: message.name }));
      }
    });
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) =>
      this.failAll(new EngineError(`the ${name} engine's worker thread exited (code ${code})`)),
    );
  }

  private settle(id: number) {
    const entry = this.pending.get(id);
    this.pending.delete(id);
    return entry;
  }

  private failAll(error: Error) {
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      entry.reject(error);
    }
  }

  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    if (this.closed) return Promise.reject(new EngineError(`the ${this.name} engine is closed`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'run', id, feeds } satisfies HostMessage);
    });
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      this.worker.postMessage({ type: 'close' } satisfies HostMessage);
    });
    return this.closed;
  }
}

export async function createThreadedEngine(
  name: EngineName,
  model: Uint8Array,
  options: EngineOptions,
): Promise<InferenceEngine> {
  const worker = startWorker();
  const ready = await new Promise<Extract<WorkerMessage, { type: 'ready' }>>((resolve, reject) => {
    const onMessage = (message: WorkerMessage) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed')
        reject(Object.assign(new EngineError(message.message), { name: message.name }));
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.postMessage({ type: 'init', name, model, options } satisfies HostMessage);
  }).catch(async (error) => {
    await worker.terminate();
    throw error;
  });
  worker.removeAllListeners('message');
  worker.removeAllListeners('error');
  return new ThreadedEngine(name, worker, ready.inputs, ready.outputs);
}

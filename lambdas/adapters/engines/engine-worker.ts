/**
 * The worker-thread side of a threaded engine (engine-thread.ts): creates the engine inside
 * this thread and runs batches for the host, so that inference never blocks the host thread
 * where images are decoded and results written.
 */
import { parentPort } from 'node:worker_threads';
import type { EngineName, InferenceEngine, TensorData } from '../../core/tensor.js';
import type { EngineOptions } from './index.js';

/**
 * The engine itself, on this thread. Not index.ts's createEngine: that would bundle the thread
 * host (engine-thread.ts) into this thread's module, which never uses it, and the Lambda
 * packages are at their size limit.
 */
async function createEngine(name: EngineName, model: Uint8Array, options: EngineOptions): Promise<InferenceEngine> {
  switch (name) {
    case 'wasm':
      return (await import('./wasm.js')).createWasmEngine(model, options);
    case 'cpu':
      return (await import('./cpu.js')).createCpuEngine(model, options);
    case 'cuda':
      return (await import('./cuda.js')).createCudaEngine(model, options);
  }
}

export type HostMessage =
  | { type: 'init'; name: EngineName; model: Uint8Array; options: EngineOptions }
  | { type: 'run'; id: number; feeds: Record<string, TensorData> }
  | { type: 'close' };

export type WorkerMessage =
  | { type: 'ready'; inputs: InferenceEngine['inputs']; outputs: InferenceEngine['outputs'] }
  | { type: 'result'; id: number; outputs: Record<string, TensorData> }
  | { type: 'failed'; id: number | null; name: string; message: string }
  | { type: 'closed' };

const port = parentPort;
if (!port) throw new Error('engine-worker runs only as a worker thread');
let engine: InferenceEngine | undefined;
const fail = (id: number | null, error: unknown) => {
  const e = error instanceof Error ? error : new Error(String(error));
  port.postMessage({ type: 'failed', id, name: e.name, message: e.message } satisfies WorkerMessage);
};

port.on('message', async (message: HostMessage) => {
  try {
    if (message.type === 'init') {
      engine = await createEngine(message.name, message.model, message.options);
      port.postMessage({ type: 'ready', inputs: engine.inputs, outputs: engine.outputs } satisfies WorkerMessage);
    } else if (message.type === 'run') {
      const outputs = await engine!.run(message.feeds);
      // Outputs are fresh arrays: hand their memory over instead of copying it.
      const buffers = Object.values(outputs).map((t) => t.data.buffer as ArrayBuffer);
      port.postMessage({ type: 'result', id: message.id, outputs } satisfies WorkerMessage, [...new Set(buffers)]);
    } else {
      await engine?.close();
      port.postMessage({ type: 'closed' } satisfies WorkerMessage);
      port.close();
    }
  } catch (error) {
    fail(message.type === 'run' ? message.id : null, error);
  }
});

/**
 * An InferenceEngine over an onnxruntime InferenceSession. onnxruntime-node and
 * onnxruntime-web share onnxruntime-common's API, so one adapter serves all three engines;
 * each engine file only chooses the package and the session options.
 */
import type { InferenceSession, Tensor, TypedTensor } from 'onnxruntime-common';
import type { EngineName, InferenceEngine, TensorData, TensorInfo } from '../../core/tensor.js';

type TensorConstructor = new (
  type: 'float32' | 'int64',
  data: Float32Array | BigInt64Array,
  dims: readonly number[],
) => Tensor;

function describe(metadata: readonly InferenceSession.ValueMetadata[]): TensorInfo[] {
  return metadata.map((m) =>
    m.isTensor ? { name: m.name, type: m.type, shape: m.shape } : { name: m.name, type: 'non-tensor', shape: [] },
  );
}

export class OrtEngine implements InferenceEngine {
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  private queue: Promise<unknown> = Promise.resolve();

  /** @param serialise run one batch at a time (onnxruntime-web allows no concurrent runs on a session). */
  constructor(
    readonly name: EngineName,
    private readonly session: InferenceSession,
    private readonly TensorClass: TensorConstructor,
    private readonly serialise: boolean,
  ) {
    this.inputs = describe(session.inputMetadata);
    this.outputs = describe(session.outputMetadata);
  }

  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    if (!this.serialise) return this.runNow(feeds);
    const result = this.queue.then(() => this.runNow(feeds));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async runNow(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
    const ortFeeds: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.TensorClass(t.type, t.data, t.dims);
    const results = await this.session.run(ortFeeds);
    const out: Record<string, TensorData> = {};
    for (const [name, tensor] of Object.entries(results)) {
      if (tensor.type === 'float32') {
        out[name] = { type: 'float32', data: (tensor as TypedTensor<'float32'>).data, dims: tensor.dims };
      } else if (tensor.type === 'int64') {
        out[name] = { type: 'int64', data: (tensor as TypedTensor<'int64'>).data, dims: tensor.dims };
      } else {
        throw new TypeError(`output '${name}' has type ${tensor.type}; the runtime reads float32 and int64 outputs`);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.session.release();
  }
}

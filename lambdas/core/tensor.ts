/** Tensors and the inference-engine port, as the core sees them: no onnxruntime here. */

export type TensorData =
  | { readonly type: 'float32'; readonly data: Float32Array; readonly dims: readonly number[] }
  | { readonly type: 'int64'; readonly data: BigInt64Array; readonly dims: readonly number[] };

/** A graph input or output as the model declares it; symbolic dimensions are strings. */
export interface TensorInfo {
  readonly name: string;
  readonly type: string;
  readonly shape: ReadonlyArray<number | string>;
}

export const ENGINE_NAMES = ['wasm', 'cpu', 'cuda'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

export interface RunOptions {
  /**
   * The caller will not read the feeds again: an engine in another thread may move their
   * memory there instead of copying it, leaving the caller's arrays empty (detached).
   */
  readonly handOver?: boolean;
}

export interface InferenceEngine {
  readonly name: EngineName;
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  /** Runs one batch. Calls may overlap; an engine serialises them itself where it must. */
  run(feeds: Record<string, TensorData>, options?: RunOptions): Promise<Record<string, TensorData>>;
  close(): Promise<void>;
}

export function float32(data: Float32Array, dims: readonly number[]): TensorData {
  return { type: 'float32', data, dims };
}

export function int64(data: BigInt64Array, dims: readonly number[]): TensorData {
  return { type: 'int64', data, dims };
}

import { readFile } from 'node:fs/promises';

export interface StoredTensor {
  shape: number[];
  data: Float32Array | BigInt64Array;
}

/** Reads `<prefix>.json` + `<prefix>.bin` as written by models/reference/train/export.py. */
export async function readTensors(prefix: string): Promise<Record<string, StoredTensor>> {
  const index = JSON.parse(await readFile(`${prefix}.json`, 'utf8')).tensors as Record<
    string,
    { dtype: string; shape: number[]; offset: number; bytes: number }
  >;
  const raw = await readFile(`${prefix}.bin`);
  const out: Record<string, StoredTensor> = {};
  for (const [name, meta] of Object.entries(index)) {
    const bytes = raw.buffer.slice(raw.byteOffset + meta.offset, raw.byteOffset + meta.offset + meta.bytes);
    out[name] = {
      shape: meta.shape,
      data: meta.dtype === 'float32' ? new Float32Array(bytes) : new BigInt64Array(bytes),
    };
  }
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

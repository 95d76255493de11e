import type { ColumnType } from '../columns.js';
import type { Task } from '../manifest.js';
import type { Placement, Size } from '../placement.js';
import type { TaskResult } from '../records.js';

/** A binary mask at the original image size: 1 byte a pixel, 0 or 255. */
export interface BinaryMask {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** What a decoder knows of the pair whose output it decodes. */
export interface DecodeContext {
  readonly original: Size;
  readonly input: Size;
  readonly placement: Placement;
  /** Stores a mask for this pair and task; returns its key, or null when masks are not kept. */
  saveMask(taskName: string, mask: BinaryMask): Promise<string | null>;
}

/** One pair's slice of an output tensor: its values and the dimensions after the batch axis. */
export interface OutputSlice {
  readonly values: Float32Array;
  readonly dims: readonly number[];
}

export interface TaskDecoder<T extends Task = Task> {
  readonly kind: T['kind'];
  /** The SQL column type of this kind's result (its shape in records.ts). */
  column(task: T): ColumnType;
  decode(task: T, output: OutputSlice, ctx: DecodeContext): TaskResult | Promise<TaskResult>;
}

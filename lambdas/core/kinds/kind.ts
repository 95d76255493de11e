/**
 * What a task kind is: one module (kinds/<kind>.ts) owns everything about it, and the rest of
 * the code iterates the registry (kinds/index.ts) instead of switching on the kind:
 * - its model.json entry (a zod schema) and the graph outputs it reads, with the shapes each
 *   accepts (checked against the ONNX graph);
 * - its decoder (raw outputs of one pair → its result), its result schema (→ JSON Schema) and
 *   its SQL column type (Glue and DuckDB both render it);
 * - its ground truth (one value in a truth line) and its metric: one rule scores a pair (the
 *   report's ✓/✗) and the same scores add up to the metric (`infer --truth`, the report, the
 *   model build);
 * - how the CLI prints it and how the report draws it (charts, a line per card, an overlay).
 */
import * as z from 'zod';
import type { ColumnType } from '../columns.js';
import type { MaskFormat } from '../mask-format.js';
import type { Placement, Size } from '../placement.js';
import type { ChartTally } from '../report/charts.js';

// ---- model.json ----

export const TASK_NAME = /^[a-z][a-z0-9_]*$/;
export const taskName = z
  .string()
  .regex(TASK_NAME, 'a task name is lower-case letters, digits and _ (it becomes a SQL column)');
export const tensorName = z.string().min(1);
export const labelList = z.array(z.string().min(1)).min(1);

/** Fields every task has; a kind's schema spreads these and adds `kind` and its own. */
export const TaskBase = { name: taskName, output: tensorName, description: z.string().optional() };

/** A problem with one task of a manifest, at a path inside that task. */
export interface TaskIssue {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

// ---- the graph ----

/** A graph output a task reads: which tensor, from which manifest field, in which shapes. */
export interface OutputSpec {
  /** The manifest field that names it, e.g. `output` or `scores`. */
  readonly field: string;
  readonly tensor: string;
  /** Element types accepted (default: float32 only). */
  readonly types?: readonly string[];
  /** Accepted shapes after the batch axis; `null` is any size. Any one may match. */
  readonly shapes: readonly (readonly (number | null)[])[];
}

/** One pair's slice of an output tensor: its values and the dimensions after the batch axis. */
export interface OutputSlice {
  readonly values: Float32Array;
  readonly dims: readonly number[];
}

// ---- dense outputs ----

export type Rgb = readonly [number, number, number];

/**
 * A one-channel picture at the original image's size that a result points to (a PNG object or
 * file): a binary mask, a class map (an index per pixel, with a palette for viewers), or a
 * value map (16-bit values over a range the result records).
 */
export type DenseImage =
  | { readonly kind: 'mask'; readonly width: number; readonly height: number; readonly data: Uint8Array }
  | {
      readonly kind: 'classes';
      readonly width: number;
      readonly height: number;
      readonly data: Uint8Array;
      readonly palette: readonly Rgb[];
    }
  | { readonly kind: 'values'; readonly width: number; readonly height: number; readonly data: Uint16Array };

/** A binary mask at the original image size: 1 byte a pixel, 0 or 255. */
export interface BinaryMask {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** What a decoder knows of the pair whose outputs it decodes. */
export interface DecodeContext {
  readonly original: Size;
  /** The model input's size. */
  readonly input: Size;
  readonly placement: Placement;
  /**
   * How masks and class maps are kept: inline as COCO RLE, as PNGs through saveDense, or both
   * (value maps are PNGs whatever it says).
   */
  readonly maskFormat: MaskFormat;
  /** Stores a dense output of this pair and task; returns its key, or null when they are not kept. */
  saveDense(taskName: string, image: DenseImage): Promise<string | null>;
}

// ---- ground truth and metrics ----

/**
 * How a metric reads the pictures it compares, for one pair and task: a truth picture by its
 * reference in the truth line (a path relative to the truth file), read as the form the kind
 * compares; and the dense output the record points to (null: not stored, or the key is null).
 */
export interface TruthIO {
  loadTruthImage(ref: string, form: DenseImage['kind']): Promise<DenseImage>;
  loadPredicted(key: string | null): Promise<DenseImage | null>;
}

/** One pair against its truth: right or wrong, and a few words on why (shown on hover). */
export interface PairScore {
  readonly right: boolean;
  readonly note?: string;
}

/** The metric of one task over a truth set, in the form every kind reports. */
export interface MetricSummary {
  /** Short id, e.g. `accuracy`, `micro_f1`, `mean_iou`, `map_50`. */
  readonly metric: string;
  /** Its name for people, e.g. `micro-F1`, `mAP@0.5`. */
  readonly label: string;
  readonly value: number;
  /** Whether `value` is a fraction (printed as a percentage) or a plain number. */
  readonly fraction: boolean;
  /** Other figures of the same task, by id (e.g. `map_50_95`, `empty_predicted_empty`). */
  readonly more?: Readonly<Record<string, number>>;
  /** The extra figures in words, e.g. `empty targets predicted empty 100.0 % of 43`. */
  readonly note?: string;
}

/** Adds up pair scores of one task; `S` is the kind's own per-pair score. */
export interface MetricTally<S extends PairScore> {
  add(score: S): void;
  summary(pairs: number): MetricSummary;
}

// ---- the report ----

/** What the report draws over a pair's thumbnail for one task. */
export type Overlay =
  /** RGBA pixels of exactly the thumbnail's size. */
  | { readonly kind: 'raster'; readonly width: number; readonly height: number; readonly rgba: Uint8Array }
  /** Boxes in the original image's pixels; the page scales them to the thumbnail. */
  | {
      readonly kind: 'boxes';
      readonly boxes: readonly {
        readonly x: number;
        readonly y: number;
        readonly width: number;
        readonly height: number;
        readonly label: string;
      }[];
    };

export interface OverlayInput<R> {
  readonly result: R;
  /** The dense picture the result points to, decoded (null when the result has none). */
  readonly dense: DenseImage | null;
  /** The thumbnail's size. */
  readonly size: Size;
  readonly color: Rgb;
}

// ---- drafts (fusebatch init-model) ----

/** A graph output as init-model sees it: name, element type, shape after the batch axis. */
export interface DraftOutput {
  readonly name: string;
  readonly type: string;
  readonly dims: readonly (number | string)[];
}

/** A kind's reading of some outputs: the task entry it drafts, the outputs it used, what the user must check. */
export interface TaskDraft {
  readonly task: Record<string, unknown>;
  readonly uses: readonly string[];
  readonly notes: readonly string[];
}

/** A placeholder a user must replace; validate-model refuses a manifest that still has one. */
export const todo = (what: string) => `TODO: ${what}`;

// ---- the module ----

export interface TaskKind<
  K extends string = string,
  T extends { kind: K; name: string } = { kind: K; name: string },
  R = unknown,
  S extends PairScore = PairScore,
> {
  readonly kind: K;
  /** One line for the docs: what a task of this kind gives. */
  readonly about: string;
  /** Results in the image's pixels: a model with a task of this kind must read an image. */
  readonly needsImage?: boolean;
  readonly taskSchema: z.ZodType<T, unknown>;
  /** Checks that need the whole task (labels unique, topK within the labels). */
  refine?(task: T): TaskIssue[];
  outputs(task: T): OutputSpec[];
  /** Extra graph checks across outputs (shapes, by name), after each output's own shape check. */
  checkGraph?(task: T, shapes: ReadonlyMap<string, readonly (number | string)[]>): TaskIssue[];

  readonly resultSchema: z.ZodType<R>;
  column(task: T): ColumnType;
  /** `outputs` are the slices of `outputs(task)`, in that order. */
  decode(task: T, outputs: readonly OutputSlice[], ctx: DecodeContext): R | Promise<R>;
  /** The key of the dense output a result points to, for kinds that store one. */
  denseKey?(result: R): string | null;
  /**
   * The dense output a result carries in itself (COCO RLE), decoded; null when it carries none,
   * and then the object at denseKey is the picture. Readers try this first: it costs no GET.
   */
  inlineDense?(task: T, result: R): DenseImage | null;

  /** The expected value in a truth line. */
  truthSchema(task: T): z.ZodType;
  score(task: T, result: R, expected: unknown, io: TruthIO): S | Promise<S>;
  tally(task: T): MetricTally<S>;
  /** The expected value in words (under a wrong prediction in the report). */
  describeExpected(task: T, expected: unknown): string;

  /** `validate-model`'s line for the task, after its name, kind and output. */
  describeTask(task: T): string;
  /** The result in a few words for a table cell (`fusebatch results --format table|csv`). */
  cell(result: R): string;
  /** The result in words on a report card, and more of it on hover. */
  describe(task: T, result: R): { text: string; detail?: string };
  /** The report's charts of the task, fed one result at a time. */
  chartTally(task: T): ChartTally<R>;
  overlay?(task: T, input: OverlayInput<R>): Overlay | null;
  /** The overlay's colours in words, when it has its own (one per class); else the task's colour is shown. */
  legend?(task: T): { label: string; color: Rgb }[];
  /**
   * init-model: a task of this kind for `output`, when its shape is one this kind reads (the
   * registry asks the kinds in turn; `all` are the graph's outputs not yet used).
   */
  draft?(output: DraftOutput, all: readonly DraftOutput[]): TaskDraft | null;
}

/** Scores are rounded to 6 decimals so records are short and stable across runs. */
export const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export const BoxSchema = z.object({
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
});
export type Box = z.infer<typeof BoxSchema>;

export const f2 = (x: number) => x.toFixed(2);
export const percent = (x: number) => `${(100 * x).toFixed(1)} %`;

/** The plain tally of right and wrong pairs: accuracy. */
export function accuracyTally<S extends PairScore>(): MetricTally<S> {
  let right = 0;
  return {
    add: (s) => {
      right += Number(s.right);
    },
    summary: (pairs) => ({ metric: 'accuracy', label: 'accuracy', value: pairs ? right / pairs : 0, fraction: true }),
  };
}

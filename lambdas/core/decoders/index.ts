/**
 * Task decoders by kind. A new kind is a schema in manifest.ts, a result shape in
 * records.ts and one decoder registered here.
 */
import type { Task, TaskKind } from '../manifest.js';
import { classificationDecoder } from './classification.js';
import type { TaskDecoder } from './decoder.js';
import { multilabelDecoder } from './multilabel.js';
import { regressionDecoder } from './regression.js';
import { scoreDecoder } from './score.js';
import { segmentationDecoder } from './segmentation.js';

export type { BinaryMask, DecodeContext, OutputSlice, TaskDecoder } from './decoder.js';

const DECODERS: { [K in TaskKind]: TaskDecoder<Extract<Task, { kind: K }>> } = {
  classification: classificationDecoder,
  multilabel: multilabelDecoder,
  score: scoreDecoder,
  regression: regressionDecoder,
  segmentation: segmentationDecoder,
};

export function decoderFor<T extends Task>(task: T): TaskDecoder<T> {
  return DECODERS[task.kind] as unknown as TaskDecoder<T>;
}

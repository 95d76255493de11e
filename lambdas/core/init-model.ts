/**
 * `fusebatch init-model`: a draft model.json from an ONNX graph's inputs and outputs.
 * Inputs are read by element type and rank (4-D float: an image, NCHW or NHWC by where its 3
 * channels are; 2-D int64: token ids, or an attention mask by name; 3-D float: word vectors;
 * 1-D int64: lengths), text layouts from which axis is dynamic; outputs are offered to each task
 * kind in turn (kinds/<kind>.ts `draft`). Every guess is listed in the draft's `draft` field
 * with what the user must fill in; TODO values mark what cannot be guessed. validate-model
 * refuses the file until both are gone.
 */
import { KINDS, type TaskKind } from './kinds/index.js';
import { type DraftOutput, TASK_NAME, type TaskDraft, todo } from './kinds/kind.js';
import type { TensorInfo } from './tensor.js';

export interface ManifestDraft {
  /** model.json as written: with `draft` (the notes) and TODO placeholders. */
  readonly manifest: Record<string, unknown>;
  readonly notes: string[];
}

const isDynamic = (d: number | string | undefined) => typeof d !== 'number' || d <= 0;
const lengthGuess = "inputs.text.maxLength: the graph's text length is dynamic; 64 is a guess";
const fixedOr = (d: number | string | undefined, guess: number) => (isDynamic(d) ? guess : (d as number));

/** Which axis of a [?, ?, …] text tensor is the batch: the dynamic one (batch-first when both or neither are). */
const textLayout = (shape: readonly (number | string)[]) =>
  isDynamic(shape[1]) && !isDynamic(shape[0]) ? ('seq-first' as const) : ('batch-first' as const);

/** A task name from an output's name: lower-case letters, digits and _, starting with a letter. */
function taskNameFor(output: string, taken: Set<string>): string {
  let base = output
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(base)) base = `task_${base}`;
  let name = base;
  for (let i = 2; taken.has(name) || !TASK_NAME.test(name); i++) name = `${base}_${i}`;
  taken.add(name);
  return name;
}

export function draftManifest(
  graphInputs: readonly TensorInfo[],
  graphOutputs: readonly TensorInfo[],
  identity: { name: string; model: string },
): ManifestDraft {
  const notes: string[] = [];
  const inputs: Record<string, unknown> = {};
  const text: Record<string, unknown> = {};
  const used = new Set<string>();

  for (const t of graphInputs) {
    const { shape, type } = t;
    if (type === 'float32' && shape.length === 4 && !inputs.image) {
      const nhwc = shape[3] === 3 && shape[1] !== 3;
      const [h, w] = nhwc ? [shape[1], shape[2]] : [shape[2], shape[3]];
      inputs.image = {
        tensor: t.name,
        width: fixedOr(w, 224),
        height: fixedOr(h, 224),
        resize: 'stretch',
        channelOrder: 'rgb',
        layout: nhwc ? 'nhwc' : 'nchw',
        mean: [0.485, 0.456, 0.406],
        std: [0.229, 0.224, 0.225],
      };
      notes.push(
        `inputs.image: '${t.name}' ${nhwc ? 'NHWC' : 'NCHW'}${isDynamic(w) || isDynamic(h) ? ', its size is dynamic: 224×224 is a guess' : ''}`,
        'inputs.image.mean and std are ImageNet’s: use your training’s; check channelOrder (rgb/bgr) and resize (stretch, contain, cover)',
      );
      used.add(t.name);
    } else if (type === 'float32' && shape.length === 3 && !text.tensor && !text.idsTensor) {
      const layout = textLayout(shape);
      Object.assign(text, {
        vectors: todo('the word-vector file (GloVe text format), e.g. vectors.txt'),
        tensor: t.name,
        maxLength: fixedOr(layout === 'seq-first' ? shape[0] : shape[1], 64),
        layout,
      });
      if (isDynamic(layout === 'seq-first' ? shape[0] : shape[1])) notes.push(lengthGuess);
      notes.push(
        `inputs.text: '${t.name}' reads word vectors of ${fixedOr(shape[2], 0) || 'a dynamic number of'} dimensions, ${layout}`,
        'inputs.text.vectors: name the word-vector file in the bundle',
      );
      used.add(t.name);
    } else if (type === 'int64' && shape.length === 2) {
      const isMask = /mask/i.test(t.name);
      const layout = textLayout(shape);
      if (isMask) text.attentionMaskTensor = t.name;
      else if (!text.idsTensor && !text.tensor) {
        Object.assign(text, {
          tokenizer: todo('the tokenizer.json file'),
          idsTensor: t.name,
          maxLength: fixedOr(layout === 'seq-first' ? shape[0] : shape[1], 64),
          layout,
        });
        if (isDynamic(layout === 'seq-first' ? shape[0] : shape[1])) notes.push(lengthGuess);
        notes.push(
          `inputs.text: '${t.name}' reads token ids, ${layout}`,
          'inputs.text.tokenizer: name the tokenizer.json',
        );
      } else continue;
      used.add(t.name);
    } else if (type === 'int64' && shape.length === 1) {
      text.lengthsTensor = t.name;
      notes.push(`inputs.text.lengthsTensor: '${t.name}' read as each text's length`);
      used.add(t.name);
    }
  }
  if (Object.keys(text).length) inputs.text = text;
  for (const t of graphInputs) {
    if (!used.has(t.name))
      notes.push(`input '${t.name}' (${t.type} [${t.shape.join(', ')}]) was not recognised: describe it by hand`);
  }

  const outputs: DraftOutput[] = graphOutputs.map((o) => ({ name: o.name, type: o.type, dims: o.shape.slice(1) }));
  const taken = new Set<string>();
  const consumed = new Set<string>();
  const drafts: { at: number; draft: TaskDraft }[] = [];
  // Two passes: first the readings that bind several outputs together (a detection's boxes and
  // scores), so that a single-output kind cannot take one of them alone; then the rest.
  for (const pass of ['several', 'one'] as const) {
    for (const [at, output] of outputs.entries()) {
      if (consumed.has(output.name)) continue;
      const open = outputs.filter((o) => !consumed.has(o.name));
      for (const kind of KINDS as readonly TaskKind[]) {
        const draft = kind.draft?.(output, open);
        if (!draft || (pass === 'several') !== draft.uses.length > 1) continue;
        drafts.push({ at, draft });
        for (const u of draft.uses) consumed.add(u);
        break;
      }
    }
  }
  // Tasks in the graph's output order.
  const tasks: Record<string, unknown>[] = [];
  for (const { at, draft } of drafts.sort((a, b) => a.at - b.at)) {
    const name = taskNameFor(outputs[at].name, taken);
    notes.push(...draft.notes.map((n) => `tasks.${tasks.length} (${name}): ${n}`));
    tasks.push({ name, ...draft.task });
  }
  // An output taken by no kind (a detection's scores are taken with its boxes, whatever the order).
  for (const output of outputs) {
    if (!consumed.has(output.name)) {
      notes.push(`output '${output.name}' ([N, ${output.dims.join(', ')}]) matches no task kind: left out`);
    }
  }
  const manifest = {
    draft: notes,
    schemaVersion: 1,
    name: identity.name,
    version: '0.1.0',
    model: identity.model,
    maxBatchSize: 32,
    inputs,
    tasks,
  };
  return { manifest, notes };
}

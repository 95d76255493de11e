/**
 * Checks a manifest against the ONNX graph it describes: names, element types and the
 * dimensions that are fixed. Returns every problem, each naming the manifest field.
 */
import { kindOf } from './kinds/index.js';
import type { ModelManifest } from './manifest.js';
import type { TensorInfo } from './tensor.js';

const isFixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;
const fmtShape = (shape: ReadonlyArray<number | string>) => `[${shape.join(', ')}]`;

/** The batch axis of an input, as its layout places it. */
const BATCH = 'batch';
type Dim = number | null | typeof BATCH;

/** A graph input the manifest feeds: its field, tensor, element types and shape, `batch` where the batch goes. */
interface InputSpec {
  readonly field: string;
  readonly tensor: string;
  readonly types: readonly string[];
  readonly dims: readonly Dim[];
}

/**
 * The graph inputs a manifest feeds. `vectorDim` is the word vectors' width when the bundle has
 * loaded them (unknown otherwise).
 */
export function inputSpecs(manifest: ModelManifest, vectorDim?: number): InputSpec[] {
  const { image, text } = manifest.inputs;
  const specs: InputSpec[] = [];
  if (image) {
    specs.push({
      field: 'inputs.image.tensor',
      tensor: image.tensor,
      types: ['float32'],
      dims: image.layout === 'nchw' ? [BATCH, 3, image.height, image.width] : [BATCH, image.height, image.width, 3],
    });
  }
  if (text) {
    const seq = (...rest: Dim[]): Dim[] =>
      text.layout === 'batch-first' ? [BATCH, text.maxLength, ...rest] : [text.maxLength, BATCH, ...rest];
    if ('vectors' in text) {
      specs.push({
        field: 'inputs.text.tensor',
        tensor: text.tensor,
        types: ['float32'],
        dims: seq(vectorDim ?? null),
      });
    } else {
      specs.push({ field: 'inputs.text.idsTensor', tensor: text.idsTensor, types: ['int64'], dims: seq() });
      if (text.attentionMaskTensor) {
        specs.push({
          field: 'inputs.text.attentionMaskTensor',
          tensor: text.attentionMaskTensor,
          types: ['int64'],
          dims: seq(),
        });
      }
    }
    if (text.lengthsTensor) {
      specs.push({ field: 'inputs.text.lengthsTensor', tensor: text.lengthsTensor, types: ['int64'], dims: [BATCH] });
    }
  }
  return specs;
}

/** Whether an input's batch axis is fixed at 1 in the graph (older exports): then one pair per call. */
export function batchFixedAtOne(manifest: ModelManifest, graphInputs: readonly TensorInfo[]): boolean {
  const shapes = new Map(graphInputs.map((t) => [t.name, t.shape]));
  return inputSpecs(manifest).some((spec) => shapes.get(spec.tensor)?.[spec.dims.indexOf(BATCH)] === 1);
}

/** Pairs a call may hold: 1 when the graph fixes the batch at 1, else the manifest's maxBatchSize. */
export const batchLimit = (manifest: ModelManifest, graphInputs: readonly TensorInfo[]) =>
  batchFixedAtOne(manifest, graphInputs) ? 1 : manifest.maxBatchSize;

export function checkManifestAgainstGraph(
  manifest: ModelManifest,
  graphInputs: readonly TensorInfo[],
  graphOutputs: readonly TensorInfo[],
  vectorDim?: number,
): string[] {
  const problems: string[] = [];
  const inputs = new Map(graphInputs.map((t) => [t.name, t]));
  const outputs = new Map(graphOutputs.map((t) => [t.name, t]));
  const inputNames = graphInputs.map((t) => `'${t.name}'`).join(', ');
  const outputNames = graphOutputs.map((t) => `'${t.name}'`).join(', ');

  const specs = inputSpecs(manifest, vectorDim);
  for (const { field, tensor, types, dims } of specs) {
    const info = inputs.get(tensor);
    if (!info) {
      problems.push(`${field}: '${tensor}' is not an input of the model; its inputs are ${inputNames}`);
      continue;
    }
    if (!types.includes(info.type)) {
      problems.push(`${field}: input '${tensor}' has type ${info.type}; expected ${types.join(' or ')}`);
    }
    const shape = info.shape;
    if (!shape.length) continue; // shape unknown to the graph: the engine checks at run time
    if (shape.length !== dims.length) {
      problems.push(`${field}: input '${tensor}' has shape ${fmtShape(shape)}; expected ${dims.length} dimensions`);
      continue;
    }
    const implied = fmtShape(dims.map((d) => d ?? '?'));
    if (dims.some((want, k) => want !== BATCH && want !== null && isFixed(shape[k]) && shape[k] !== want)) {
      problems.push(`${field}: input '${tensor}' has shape ${fmtShape(shape)}; the manifest implies ${implied}`);
      continue;
    }
    const axis = dims.indexOf(BATCH);
    const batch = shape[axis];
    if (isFixed(batch) && batch !== 1) {
      // A fixed batch axis where the layout puts it: say where the graph's own dynamic axis is.
      const dynamic = shape.flatMap((d, k) => (isFixed(d) ? [] : [k]));
      const hint =
        dynamic.length === 1 && field.startsWith('inputs.text')
          ? `; its dynamic axis is ${dynamic[0]}: set inputs.text.layout to '${dynamic[0] === 0 ? 'batch-first' : 'seq-first'}'`
          : '; export it with a dynamic batch axis (or a batch of 1)';
      problems.push(
        `${field}: input '${tensor}' has shape ${fmtShape(shape)}; the manifest implies ${implied}, and axis ${axis} (the batch) is fixed at ${batch}${hint}`,
      );
    }
  }
  const fed = new Set(specs.map((s) => s.tensor));
  for (const info of graphInputs) {
    if (!fed.has(info.name)) {
      problems.push(`inputs: the model's input '${info.name}' is not named anywhere in inputs of the manifest`);
    }
  }

  manifest.tasks.forEach((task, i) => {
    const kind = kindOf(task);
    const shapes = new Map<string, readonly (number | string)[]>();
    for (const spec of kind.outputs(task)) {
      const field = `tasks.${i}.${spec.field}`;
      const info = outputs.get(spec.tensor);
      if (!info) {
        problems.push(
          `${field}: '${spec.tensor}' (task '${task.name}') is not an output of the model; its outputs are ${outputNames}`,
        );
        continue;
      }
      const types = spec.types ?? ['float32'];
      if (!types.includes(info.type)) {
        problems.push(`${field}: output '${spec.tensor}' has type ${info.type}; expected ${types.join(' or ')}`);
      }
      if (!info.shape.length) continue; // shape unknown to the graph: checked at run time
      shapes.set(spec.field, info.shape);
      const rest = info.shape.slice(1);
      const fits = spec.shapes.some(
        (want) => want.length === rest.length && want.every((d, k) => d === null || !isFixed(rest[k]) || rest[k] === d),
      );
      if (!fits) {
        const wants = spec.shapes.map((w) => `[batch${w.map((d) => `, ${d ?? '?'}`).join('')}]`).join(' or ');
        problems.push(
          `${field}: output '${spec.tensor}' has shape ${fmtShape(info.shape)}; a ${task.kind} task${
            'labels' in task ? ` with ${task.labels.length} labels` : ''
          } needs ${wants}`,
        );
      }
    }
    for (const issue of kind.checkGraph?.(task, shapes) ?? []) {
      problems.push(`tasks.${i}.${issue.path.join('.')}: ${issue.message}`);
    }
  });
  return problems;
}

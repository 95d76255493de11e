/**
 * Checks a manifest against the ONNX graph it describes: names, element types and the
 * dimensions that are fixed. Returns every problem, each naming the manifest field.
 */
import { kindOf } from './kinds/index.js';
import type { ModelManifest } from './manifest.js';
import type { TensorInfo } from './tensor.js';

const isFixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;
const fmtShape = (shape: ReadonlyArray<number | string>) => `[${shape.join(', ')}]`;

export function checkManifestAgainstGraph(
  manifest: ModelManifest,
  graphInputs: readonly TensorInfo[],
  graphOutputs: readonly TensorInfo[],
): string[] {
  const problems: string[] = [];
  const inputs = new Map(graphInputs.map((t) => [t.name, t]));
  const outputs = new Map(graphOutputs.map((t) => [t.name, t]));
  const inputNames = graphInputs.map((t) => `'${t.name}'`).join(', ');
  const outputNames = graphOutputs.map((t) => `'${t.name}'`).join(', ');

  const input = (field: string, name: string, types: string[], dims: (number | null)[]) => {
    const info = inputs.get(name);
    if (!info) {
      problems.push(`${field}: '${name}' is not an input of the model; its inputs are ${inputNames}`);
      return;
    }
    if (!types.includes(info.type)) {
      problems.push(`${field}: input '${name}' has type ${info.type}; expected ${types.join(' or ')}`);
    }
    const shape = info.shape;
    if (shape.length && shape.length !== dims.length + 1) {
      problems.push(`${field}: input '${name}' has shape ${fmtShape(shape)}; expected ${dims.length + 1} dimensions`);
      return;
    }
    dims.forEach((want, i) => {
      const got = shape[i + 1];
      if (want !== null && isFixed(got) && got !== want) {
        problems.push(
          `${field}: input '${name}' has shape ${fmtShape(shape)}; the manifest implies [batch, ${dims
            .map((d) => d ?? '?')
            .join(', ')}]`,
        );
      }
    });
  };

  const { image, text } = manifest.inputs;
  input(
    'inputs.image.tensor',
    image.tensor,
    ['float32'],
    image.layout === 'nchw' ? [3, image.height, image.width] : [image.height, image.width, 3],
  );
  input('inputs.text.idsTensor', text.idsTensor, ['int64'], [text.maxLength]);
  if (text.attentionMaskTensor) {
    input('inputs.text.attentionMaskTensor', text.attentionMaskTensor, ['int64'], [text.maxLength]);
  }
  const fed = new Set([image.tensor, text.idsTensor, text.attentionMaskTensor]);
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

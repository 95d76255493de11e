/**
 * Checks a manifest against the ONNX graph it describes: names, element types and the
 * dimensions that are fixed. Returns every problem, each naming the manifest field.
 */
import type { ModelManifest, Task } from './manifest.js';
import type { TensorInfo } from './tensor.js';

const isFixed = (d: number | string | undefined): d is number => typeof d === 'number' && d > 0;
const fmtShape = (shape: ReadonlyArray<number | string>) => `[${shape.join(', ')}]`;

/** Output shapes a task kind accepts, after the batch axis. `null` marks any size. */
function expectedOutputShapes(task: Task): (number | null)[][] {
  switch (task.kind) {
    case 'classification':
    case 'multilabel':
      return [[task.labels.length]];
    case 'score':
    case 'regression':
      return [[], [1]];
    case 'segmentation':
      return [
        [1, null, null],
        [null, null],
      ];
  }
}

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
    const field = `tasks.${i}.output`;
    const info = outputs.get(task.output);
    if (!info) {
      problems.push(
        `${field}: '${task.output}' (task '${task.name}') is not an output of the model; its outputs are ${outputNames}`,
      );
      return;
    }
    if (info.type !== 'float32') {
      problems.push(`${field}: output '${task.output}' has type ${info.type}; expected float32`);
    }
    if (!info.shape.length) return; // shape unknown to the graph: checked at run time
    const rest = info.shape.slice(1);
    const fits = expectedOutputShapes(task).some(
      (want) => want.length === rest.length && want.every((d, k) => d === null || !isFixed(rest[k]) || rest[k] === d),
    );
    if (!fits) {
      const wants = expectedOutputShapes(task)
        .map((w) => `[batch${w.map((d) => `, ${d ?? '?'}`).join('')}]`)
        .join(' or ');
      problems.push(
        `${field}: output '${task.output}' has shape ${fmtShape(info.shape)}; a ${task.kind} task${
          'labels' in task ? ` with ${task.labels.length} labels` : ''
        } needs ${wants}`,
      );
    }
  });
  return problems;
}
